"""Lambda events as AWS delivers them (API Gateway HTTP API payload 2.0, SQS, EventBridge), and
the AWS side of a deployed leadq on moto's server: tables, queue and secrets parameter."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from sync.state_dynamodb import create_table, dynamodb_client

REGION = "eu-west-1"
API_DOMAIN = "abc123.execute-api.eu-west-1.amazonaws.com"


def http_api_event(
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    base64_encoded: bool = False,
    domain: str = API_DOMAIN,
) -> dict[str, Any]:
    """POST `path` as API Gateway's HTTP API hands it to Lambda: lowercased header names, the
    body as text or base64."""
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-length": str(len(body)),
            "host": domain,
            "x-forwarded-proto": "https",
            **{name.lower(): value for name, value in headers.items()},
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split(".")[0],
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": f"req-{uuid.uuid4().hex[:12]}",
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": base64.b64encode(body).decode() if base64_encoded else body.decode(),
        "isBase64Encoded": base64_encoded,
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Messages as received from SQS, as the Lambda event source mapping delivers them."""
    return {"Records": [
        {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0",
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "0"},
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": REGION,
        }
        for message in messages
    ]}


def scheduled_event(rule: str = "leadq-schedule") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/{rule}"],
        "detail": {},
    }


@dataclass
class DeployedAws:
    """A stage's AWS resources on moto: what serverless.yml creates, and the secrets parameter."""

    endpoint: str
    state_table: str
    idempotency_table: str
    queue_url: str
    queue_arn: str
    secrets_parameter: str

    @property
    def state_url(self) -> str:
        return f"dynamodb://{self.state_table}?region={REGION}&endpoint_url={self.endpoint}"

    @classmethod
    def create(cls, endpoint: str, secrets: dict[str, str]) -> DeployedAws:
        name = uuid.uuid4().hex[:8]
        dynamodb = dynamodb_client(REGION, endpoint)
        create_table(dynamodb, f"leadq-{name}-state")
        dynamodb.create_table(
            TableName=f"leadq-{name}-idempotency",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
        queue_url = sqs.create_queue(QueueName=f"leadq-{name}-leads")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        parameter = f"/leadq/{name}/secrets"
        boto3.client("ssm", region_name=REGION, endpoint_url=endpoint).put_parameter(
            Name=parameter, Type="SecureString", Value=json.dumps(secrets))
        return cls(endpoint, f"leadq-{name}-state", f"leadq-{name}-idempotency", queue_url,
                   queue_arn, parameter)

    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=REGION, endpoint_url=self.endpoint)

    def take_messages(self) -> list[dict[str, Any]]:
        """Every message on the queue now, received and deleted (as a Lambda event source
        mapping does once the worker succeeded)."""
        sqs = self.sqs()
        taken: list[dict[str, Any]] = []
        while True:
            answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=0)
            messages = answer.get("Messages") or []
            if not messages:
                return taken
            taken += messages
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                for n, m in enumerate(messages)])
