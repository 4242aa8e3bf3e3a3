"""`npx serverless@3 package` turns serverless.yml into a deployable bundle and CloudFormation
template with no AWS credentials at all, and what it makes is what README "Deploy" promises:

- the bundle holds leadq's runtime (connectors/, scoring/, sync/, the model) and its dependencies
  built for arm64, and none of the sandbox, benchmarks, tests, scikit-learn, scipy or the AWS SDK;
- the template passes cfn-lint, and wires the four functions, the webhook routes, the queue with
  its dead-letter queue, the schedules, the tables and a role scoped to them.

Runs the Serverless Framework the project's package-lock.json pins (`npx --no`: never a download;
`python3 dev.py` runs `npm ci`). Skipped only where npx is missing and CI is not set.
Packaging once takes ~30-60 s (pip downloads arm64 wheels; later runs hit the plugin's cache).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from ruamel.yaml import YAML

from sync import state_dynamodb

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STAGE = "ci"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
EM_AARCH64 = 183
HUBSPOT_SEARCHES_PER_SECOND = 5
RUNTIME_PACKAGES = ("connectors", "scoring", "sync")
LEFT_OUT = ("sandbox/", "benchmarks/", "tests/", "sklearn/", "scipy/", "node_modules/", ".venv/")
HANDLERS = {
    "webhook": "sync/handlers.webhook",
    "worker": "sync/handlers.worker",
    "schedule": "sync/handlers.schedule",
    "rescore": "sync/handlers.rescore",
}
WEBHOOK_ROUTES = {
    "POST /webhooks/hubspot",
    "POST /webhooks/salesforce",
    "POST /webhooks/salesforce/callout",
}
# Serverless itself writes DependsOn beside the Ref that already orders a route after its
# integration; harmless, and not ours to change.
TOLERATED_WARNINGS = {"W3005"}

# The quick start needs node and npm (dev.py installs serverless@3 with `npm ci`); a developer
# without Node.js can still run the Python suite. With CI=true nothing is skipped: a missing npx
# fails these tests there instead of hiding them.
if shutil.which("npx") is None and os.environ.get("CI") != "true":
    pytest.skip("npx (Node.js) is not installed on this machine; with CI=true these tests run "
                "and fail without it", allow_module_level=True)


@dataclass(frozen=True)
class Package:
    directory: Path
    bundle: zipfile.ZipFile
    template: dict[str, Any]

    @property
    def names(self) -> list[str]:
        return self.bundle.namelist()

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            name: resource["Properties"]
            for name, resource in self.template["Resources"].items()
            if resource["Type"] == kind
        }

    def function(self, name: str) -> dict[str, Any]:
        return self.template["Resources"][f"{name.capitalize()}LambdaFunction"]["Properties"]

    def environment(self, name: str) -> dict[str, Any]:
        return self.function(name)["Environment"]["Variables"]


def packaging_environment(home: Path) -> dict[str, str]:
    """This process's environment less anything AWS: no keys, no profile, no config files, no
    instance metadata. Packaging must not need an account."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        LEADQ_PACKAGING_PYTHON=sys.executable,
    )
    return environment


def package_service(directory: Path) -> None:
    completed = subprocess.run(
        ["npx", "--no", "--", "serverless@3", "package", "--stage", STAGE, "--package", directory],
        cwd=ROOT,
        env=packaging_environment(directory.parent),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, (
        "serverless package failed (run `npm ci` if node_modules is missing):\n"
        + completed.stdout[-3000:]
        + completed.stderr[-3000:]
    )


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Package]:
    # Under pytest-xdist every worker that runs one of these tests needs the package: the first
    # to take the lock packages into the run's shared temp folder, the others open its output.
    shared = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        shared = shared.parent
    directory = shared / "serverless-package"
    with (shared / "serverless-package.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / "leadq.zip").exists():
            package_service(directory)
    template = json.loads((directory / "cloudformation-template-update-stack.json").read_text())
    with zipfile.ZipFile(directory / "leadq.zip") as bundle:
        yield Package(directory, bundle, template)


def serverless_params() -> dict[str, Any]:
    return YAML(typ="safe").load((ROOT / "serverless.yml").read_text())["params"]["default"]


def elf_machine(data: bytes) -> int:
    return struct.unpack_from("<H", data, 18)[0]


# The bundle


def test_the_bundle_leaves_out_the_sandbox_benchmarks_tests_and_the_learning_stack(
    packaged: Package,
) -> None:
    left_in = [name for name in packaged.names if name.startswith(LEFT_OUT)]
    assert not left_in[:10]
    assert not [name for name in packaged.names if name.startswith(("boto3/", "botocore/"))]


def test_the_bundle_holds_no_dotenv_file_and_no_compiled_python(packaged: Package) -> None:
    assert not [name for name in packaged.names if Path(name).name == ".env"]
    assert not [name for name in packaged.names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_bundle_holds_every_module_of_leadqs_runtime_packages(packaged: Package) -> None:
    sources = sorted(
        path.relative_to(ROOT).as_posix()
        for package in RUNTIME_PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    assert sources
    assert set(sources) <= set(packaged.names)


def test_the_bundle_holds_the_handler_module_each_function_names(packaged: Package) -> None:
    for name in HANDLERS:
        module, _, function = packaged.function(name)["Handler"].rpartition(".")
        assert f"{module}.py" in packaged.names
        assert f"def {function}(" in packaged.bundle.read(f"{module}.py").decode()


IMPORT_ONLY_FROM = """
import importlib, importlib.abc, json, sys
allowed, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
class LeftOut(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in allowed or top in sys.stdlib_module_names or top.startswith("_sysconfigdata"):
            return None
        raise ModuleNotFoundError(f"not in the bundle: {name}", name=name)
sys.meta_path.insert(0, LeftOut())
failed = {}
for module in modules:
    try:
        importlib.import_module(module)
    except ImportError as error:
        failed[module] = str(error)
print(json.dumps(failed))
"""


def test_every_module_leadq_ships_imports_with_only_what_the_bundle_holds(
    packaged: Package,
) -> None:
    # Run here (the bundle's own libraries are arm64 builds) in a fresh interpreter where any
    # import of a package the bundle lacks fails, as it would on Lambda: the sandbox, benchmarks,
    # scikit-learn, test tools. The AWS SDK comes with the Lambda runtime.
    in_bundle = {re.split(r"[./]", name, maxsplit=1)[0] for name in packaged.names}
    allowed = sorted(in_bundle | {"boto3", "botocore", "s3transfer", "jmespath"})
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in RUNTIME_PACKAGES
        for path in (ROOT / package).rglob("*.py")
    )
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_ONLY_FROM, json.dumps(allowed), json.dumps(modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "sync.handlers" in modules
    assert json.loads(completed.stdout) == {}


def test_the_bundle_holds_the_model_the_functions_load(packaged: Package) -> None:
    model_path = packaged.environment("worker")["LEADQ_MODEL_PATH"]
    assert model_path == serverless_params()["modelPath"]
    assert model_path in packaged.names
    examples = [name for name in packaged.names if name.startswith("examples/")]
    assert examples == [model_path]


def test_the_bundles_compiled_libraries_are_built_for_arm64(packaged: Package) -> None:
    libraries = [name for name in packaged.names if re.search(r"\.so(\.[0-9.]+)?$", name)]
    assert any(name.startswith("numpy/") for name in libraries)
    assert any(name.startswith("pydantic_core/") for name in libraries)
    not_arm = [
        name for name in libraries if elf_machine(packaged.bundle.read(name)[:20]) != EM_AARCH64
    ]
    assert not not_arm


def test_the_bundle_keeps_the_package_metadata_clients_read_at_run_time(
    packaged: Package, tmp_path: Path
) -> None:
    # hubspot-api-client and zeep ask importlib.metadata for their own version when used.
    metadata = [name for name in packaged.names if ".dist-info/" in name]
    packaged.bundle.extractall(tmp_path, metadata)
    installed = {
        canonicalize_name(dist.metadata["Name"]) for dist in distributions(path=[str(tmp_path)])
    }
    assert {"hubspot-api-client", "zeep", "pydantic", "aws-lambda-powertools"} <= installed


def test_the_bundle_fits_lambdas_unzipped_size_limit(packaged: Package) -> None:
    assert sum(info.file_size for info in packaged.bundle.infolist()) < LAMBDA_UNZIPPED_LIMIT


# The template


def test_cfn_lint_finds_no_error_in_the_template(packaged: Package) -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    completed = subprocess.run(
        [
            str(cfn_lint) if cfn_lint.exists() else "cfn-lint",
            "--format",
            "json",
            str(packaged.directory / "cloudformation-template-update-stack.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    findings = json.loads(completed.stdout or "[]")
    rules = {finding["Rule"]["Id"] for finding in findings}
    assert not [finding for finding in findings if finding["Level"] == "Error"], findings
    assert rules <= TOLERATED_WARNINGS, findings


def test_the_four_functions_run_their_handlers_on_arm64(packaged: Package) -> None:
    for name, handler in HANDLERS.items():
        function = packaged.function(name)
        assert function["Handler"] == handler
        assert function["Architectures"] == ["arm64"]
        assert function["Runtime"] in {"python3.12", "python3.13"}
    assert len(packaged.resources("AWS::Lambda::Function")) == len(HANDLERS)


def test_the_webhook_routes_are_http_api_posts(packaged: Package) -> None:
    routes = {
        route["RouteKey"] for route in packaged.resources("AWS::ApiGatewayV2::Route").values()
    }
    assert routes == WEBHOOK_ROUTES


def test_the_worker_reads_the_queue_and_reports_partial_batch_failures(packaged: Package) -> None:
    (mapping,) = packaged.resources("AWS::Lambda::EventSourceMapping").values()
    assert mapping["FunctionName"] == {"Fn::GetAtt": ["WorkerLambdaFunction", "Arn"]}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["LeadsQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= mapping["BatchSize"] <= 10


def test_failing_messages_move_to_the_dead_letter_queue(packaged: Package) -> None:
    queues = packaged.resources("AWS::SQS::Queue")
    queue, dead_letters = queues["LeadsQueue"], queues["LeadsDeadLetterQueue"]
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["LeadsDeadLetterQueue", "Arn"]}
    assert 1 < redrive["maxReceiveCount"] <= 10
    assert dead_letters["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


def test_a_message_is_not_redelivered_while_a_worker_may_still_hold_it(packaged: Package) -> None:
    queue = packaged.resources("AWS::SQS::Queue")["LeadsQueue"]
    assert queue["VisibilityTimeout"] >= 6 * packaged.function("worker")["Timeout"]


def test_the_worker_stops_retrying_early_enough_to_finish_within_its_timeout(
    packaged: Package,
) -> None:
    timeout = packaged.function("worker")["Timeout"]
    environment = packaged.environment("worker")
    margin = float(environment["LEADQ_WORKER_MARGIN_SECONDS"])
    budget = float(environment["LEADQ_RETRY_BUDGET_SECONDS"])
    one_request = 5 + 30  # the connectors' connect and read timeouts
    assert one_request < margin < timeout
    assert budget + margin <= timeout


def test_every_process_that_calls_the_crm_together_stays_within_its_limit(
    packaged: Package,
) -> None:
    params = serverless_params()
    crm_callers = ("worker", "schedule", "rescore")
    processes = sum(packaged.function(name)["ReservedConcurrentExecutions"] for name in crm_callers)
    assert (
        packaged.function("worker")["ReservedConcurrentExecutions"] == params["workerConcurrency"]
    )
    for name in crm_callers:
        environment = packaged.environment(name)
        for variable in ("LEADQ_HUBSPOT_RATE_LIMIT", "LEADQ_SALESFORCE_RATE_LIMIT"):
            assert processes * int(environment[variable]) <= params["crmRequestsPer10Seconds"]
    # Only the schedule and the rescore search, and they may overlap.
    searches = sum(
        int(packaged.environment(name)["LEADQ_HUBSPOT_SEARCH_RATE"]) for name in crm_callers[1:]
    )
    assert searches <= HUBSPOT_SEARCHES_PER_SECOND
    assert "ReservedConcurrentExecutions" not in packaged.function("webhook")


def test_the_schedule_runs_every_15_minutes_and_the_rescore_nightly(packaged: Package) -> None:
    rules = {
        rule["Targets"][0]["Arn"]["Fn::GetAtt"][0]: rule["ScheduleExpression"]
        for rule in packaged.resources("AWS::Events::Rule").values()
    }
    assert rules["ScheduleLambdaFunction"] == "rate(15 minutes)"
    assert re.fullmatch(r"cron\(\d+ \d+ \* \* \? \*\)", rules["RescoreLambdaFunction"])


def test_the_state_table_is_the_one_the_dynamodb_store_creates(packaged: Package) -> None:
    class RecordingClient:
        def create_table(self, **request: Any) -> None:
            self.created = request

        def update_time_to_live(self, **request: Any) -> None:
            self.ttl = request["TimeToLiveSpecification"]

        def get_waiter(self, name: str) -> Any:
            return type("Waiter", (), {"wait": lambda *args, **kwargs: None})()

    client = RecordingClient()
    state_dynamodb.create_table(client, f"leadq-{STAGE}-state")  # type: ignore[arg-type]
    table = packaged.resources("AWS::DynamoDB::Table")
    state = table["StateTable"]
    for key in ("TableName", "KeySchema", "AttributeDefinitions", "BillingMode"):
        assert state[key] == client.created[key]
    assert state["TimeToLiveSpecification"] == client.ttl
    assert packaged.environment("worker")["LEADQ_STATE_URL"].startswith(
        f"dynamodb://{state['TableName']}?region="
    )


def test_the_idempotency_table_has_powertools_schema(packaged: Package) -> None:
    table = packaged.resources("AWS::DynamoDB::Table")["IdempotencyTable"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert packaged.environment("webhook")["LEADQ_IDEMPOTENCY_TABLE"] == table["TableName"]


def test_both_tables_can_be_restored_to_a_point_in_time(packaged: Package) -> None:
    for table in packaged.resources("AWS::DynamoDB::Table").values():
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_secrets_are_named_per_stage_and_never_resolved_into_the_template(
    packaged: Package,
) -> None:
    text = (packaged.directory / "cloudformation-template-update-stack.json").read_text()
    assert "{{resolve:" not in text
    assert "${ssm:" not in (ROOT / "serverless.yml").read_text()
    for name in HANDLERS:
        assert packaged.environment(name)["LEADQ_SECRETS_PARAMETER"] == f"/leadq/{STAGE}/secrets"


def test_the_role_names_each_resource_it_may_touch_and_each_action(packaged: Package) -> None:
    (role,) = packaged.resources("AWS::IAM::Role").values()
    statements = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "*" not in statement["Resource"]
        assert not [action for action in statement["Action"] if "*" in action]
    by_sid = {statement.get("Sid"): statement["Resource"] for statement in statements}
    assert by_sid["StateTable"] == [{"Fn::GetAtt": ["StateTable", "Arn"]}]
    assert by_sid["IdempotencyTable"] == [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}]
    assert by_sid["QueueLeads"] == [{"Fn::GetAtt": ["LeadsQueue", "Arn"]}]
