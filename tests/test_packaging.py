"""What ships: the Lambda zip for CloudFormation, the vendored folder rdk deploys, and a user's `pip install .`.

`make test` builds them first (`make artifacts`); a plain pytest run builds them through that target when they
are missing (tests/make_targets.py). Either way these tests need no network.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from make_targets import BUILD_TIMEOUT, made

from heartbleed_audit import events
from heartbleed_audit.demo import sample_account
from heartbleed_audit.double import FAKE_CREDENTIALS, AwsDouble

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_PYTHON = ROOT / ".venv-lambda" / "bin" / "python"
USER_BIN = ROOT / ".venv-user" / "bin"  # a clean venv with `pip install .` and no extra (make artifacts)
DISTRIBUTION = "heartbleed-server-certificate"
ELF_MACHINE = {"x86_64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64
WHEEL_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}
# The first test to find an artifact missing builds them all (make_targets.made), then runs as usual.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 300)


def artifact(path: Path) -> Path:
    return made(path, "artifacts")


def bundle(arch: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(artifact(ROOT / "dist" / f"HeartbleedServerCertificate-{arch}.zip"))


def runs_on_cpython_313(tag: str) -> bool:
    python, abi, _ = tag.split("-", 2)
    if abi == "abi3":
        return python.startswith("cp3") and int(python[3:]) <= 13
    return python == abi == "cp313"


def elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF"
    machine: int = struct.unpack_from("<H", data, 18)[0]
    return machine


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_compiled_parts_are_built_for_the_target_architecture(arch: str) -> None:
    with bundle(arch) as zipped:
        shared = [name for name in zipped.namelist() if name.endswith(".so")]
        assert any(name.startswith("cryptography/") for name in shared)
        assert {elf_machine(zipped.read(name)) for name in shared} == {ELF_MACHINE[arch]}
        wheels = [name for name in zipped.namelist() if name.endswith(".dist-info/WHEEL")]
        compiled = {}
        for name in wheels:
            tags = [
                line.split(": ", 1)[1] for line in zipped.read(name).decode().splitlines() if line.startswith("Tag:")
            ]
            if not all(tag.endswith("-any") for tag in tags):
                compiled[name.split("-")[0]] = tags
    assert set(compiled) == {"cryptography", "cffi"}
    for tags in compiled.values():
        assert all("manylinux" in tag and tag.endswith(WHEEL_MACHINE[arch]) for tag in tags), tags
        # Built for the runtime's CPython 3.13: its own ABI, or the stable ABI of a version it can load.
        assert all(runs_on_cpython_313(tag) for tag in tags), tags


def test_the_bundle_holds_the_rule_and_its_imports_only() -> None:
    with bundle("x86_64") as zipped:
        top = {name.split("/")[0] for name in zipped.namelist()}
    packages = {name for name in top if not name.endswith(".dist-info")}
    assert packages == {
        "HeartbleedServerCertificate.py",
        "heartbleed",
        "cryptography",
        "cffi",
        "_cffi_backend.cpython-313-x86_64-linux-gnu.so",
        "pycparser",
        "rdklib",
        "rdklibtest",
        "__pycache__",  # HeartbleedServerCertificate.py's byte code
    }


def test_the_bundle_carries_unchecked_byte_code_for_every_module() -> None:
    """Lambda's /var/task is read-only: without byte code in the zip every cold start compiles every module
    (docs/lean-start.md). Hash-based and unchecked (flags 0b01), since the zip's timestamps are fixed."""
    with bundle("x86_64") as zipped:
        names = set(zipped.namelist())
        sources = [name for name in names if name.endswith(".py")]
        cached = {
            name: f"{name.rsplit('/', 1)[0] + '/' if '/' in name else ''}__pycache__/"
            f"{name.rsplit('/', 1)[-1][:-3]}.cpython-313.pyc"
            for name in sources
        }
        missing = sorted(source for source, pyc in cached.items() if pyc not in names)
        assert not missing, f"no byte code for {missing[:5]} ({len(missing)} of {len(sources)})"
        flags = {int.from_bytes(zipped.read(cached[name])[4:8], "little") for name in sources}
    assert flags == {0b01}


def test_the_bundle_runs_on_a_bare_python_313_runtime(aws: AwsDouble, tmp_path: Path) -> None:
    python = artifact(LAMBDA_PYTHON)
    # The stand-in runtime has boto3 and botocore, and nothing the rule brings itself.
    bare = subprocess.run(
        [python, "-I", "-c", "import sys, boto3, botocore; print(*sys.version_info[:2]); import cryptography"],
        capture_output=True,
    )
    assert bare.stdout.split() == [b"3", b"13"]  # the python3.13 runtime's version
    assert b"No module named 'cryptography'" in bare.stderr
    with bundle("x86_64") as zipped:
        zipped.extractall(tmp_path)

    sample_account.build(aws)
    event = events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE)
    # As Lambda does: the code directory first on sys.path, then the handler imported and called.
    script = (
        "import json, sys, time; sys.path.insert(0, sys.argv[1]); start = time.perf_counter();"
        "import HeartbleedServerCertificate as rule; imported = time.perf_counter() - start;"
        "sent = rule.lambda_handler(json.loads(sys.argv[2]), None);"
        "print(json.dumps({'import_seconds': imported, 'sent': len(sent), 'rdklib': __import__('rdklib').__file__}))"
    )
    env = {"PATH": os.environ["PATH"], **FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": aws.endpoint_url}
    run = subprocess.run(
        [python, "-I", "-c", script, tmp_path, json.dumps(event)], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["sent"] == len(sample_account.EXPECTED)
    assert report["rdklib"].startswith(str(tmp_path))  # from the bundle, not from anywhere else
    stored = {arn.rsplit("/", 1)[1]: e.compliance_type for arn, e in aws.evaluations(events.RULE_NAME).items()}
    assert stored == sample_account.EXPECTED
    print(f"cold import of the handler from the bundle: {report['import_seconds'] * 1000:.0f} ms")


def in_user_install(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A command of the user's installation, run away from the checkout, as a user would."""
    env = {"PATH": f"{USER_BIN}:/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_user_install_holds_the_rule_its_core_and_the_command_only(tmp_path: Path) -> None:
    script = (
        "import importlib.metadata as m, importlib.util as u, json;"
        f"files = [str(f) for f in m.distribution({DISTRIBUTION!r}).files];"
        "print(json.dumps({'files': files, 'moto': u.find_spec('moto') is not None}))"
    )
    got = in_user_install(artifact(USER_BIN / "python"), "-I", "-c", script, cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    installed = json.loads(got.stdout)
    top = {name.split("/")[0] for name in installed["files"] if not name.startswith("..")}
    assert {name for name in top if not name.endswith(".dist-info")} == {
        "HeartbleedServerCertificate.py",
        "heartbleed",
        "heartbleed_audit",
        "__pycache__",  # HeartbleedServerCertificate.py's byte code
    }
    scripts = {Path(name).name for name in installed["files"] if name.startswith("..")}
    assert scripts == {"heartbleed-audit", "heartbleed-demo"}
    assert not any("test" in Path(name).name for name in installed["files"] if name.endswith(".py"))
    assert installed["moto"] is False  # no extra: the double's packages stay out


def test_heartbleed_audit_runs_from_a_user_install(tmp_path: Path) -> None:
    helped = in_user_install(artifact(USER_BIN / "heartbleed-audit"), "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: heartbleed-audit")


@pytest.mark.parametrize("command", [["heartbleed-audit", "audit", "--demo"], ["heartbleed-demo"]])
def test_the_demo_without_its_extra_says_which_extra_to_install(command: list[str], tmp_path: Path) -> None:
    refused = in_user_install(artifact(USER_BIN / command[0]), *command[1:], cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "pip install 'heartbleed-server-certificate[demo]'" in refused.stderr


@pytest.mark.timeout(BUILD_TIMEOUT + 660)  # a build of the artifacts, then its own subprocess (300 s) and some
@pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # moto has no Config rule in CloudFormation
def test_rdk_deploy_uploads_the_vendored_folder(aws: AwsDouble) -> None:
    folder = artifact(ROOT / "build" / "rdk" / "HeartbleedServerCertificate")
    bucket = f"config-rule-code-bucket-{events.ACCOUNT_ID}-us-east-1"  # what `rdk init` creates
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    env = {**os.environ, "AWS_ENDPOINT_URL": aws.endpoint_url}
    # rdk deploy against the double: it zips the folder, uploads it and creates its stack.
    subprocess.run(
        [Path(sys.executable).parent / "rdk", "deploy", "HeartbleedServerCertificate", "--lambda-timeout", "300"],
        cwd=folder.parent,
        env=env,
        capture_output=True,
        timeout=300,
    )
    key = "HeartbleedServerCertificate/HeartbleedServerCertificate.zip"
    uploaded = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    (folder.parent / "uploaded.zip").write_bytes(uploaded)
    with zipfile.ZipFile(folder.parent / "uploaded.zip") as zipped:
        names = set(zipped.namelist())
        shared = [n for n in names if n.startswith("cryptography/") and n.endswith(".so")]
        assert shared and all(elf_machine(zipped.read(n)) == ELF_MACHINE["x86_64"] for n in shared)
    assert {"HeartbleedServerCertificate.py", "heartbleed/verdict.py", "parameters.json"} <= names
    assert not any(n.startswith("rdklib/") for n in names)  # python3.13-lib: the rdklib layer provides it
    function = aws.client("lambda").get_function_configuration(
        FunctionName="RDK-Rule-Function-HeartbleedServerCertificate"
    )
    assert function["Runtime"] == "python3.13"
    assert function["Timeout"] == 300
    assert function["Handler"] == "HeartbleedServerCertificate.lambda_handler"
    # The layer lives in AWS's account, unknown to the double: check what rdk asked CloudFormation for.
    stack = aws.client("cloudformation").describe_stacks(StackName="HeartbleedServerCertificate")["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert ":layer:rdklib-layer:" in parameters["Layers"]
    assert json.loads(parameters["SourceInputParameters"]) == json.loads((ROOT / "parameters.json").read_text())


@pytest.mark.timeout(BUILD_TIMEOUT + 660)  # a build of the artifacts, then its own subprocess (300 s) and some
@pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # moto has no organization Config rule in CloudFormation
def test_rdk_deploy_organization_creates_the_function_and_asks_for_the_organization_rule(aws: AwsDouble) -> None:
    folder = artifact(ROOT / "build" / "rdk" / "HeartbleedServerCertificate")
    bucket = f"config-rule-code-bucket-{events.ACCOUNT_ID}-us-east-1"
    aws.client("s3").create_bucket(Bucket=bucket)
    aws.organization(1)
    env = {**os.environ, "AWS_ENDPOINT_URL": aws.endpoint_url}
    done = subprocess.run(
        [Path(sys.executable).parent / "rdk", "deploy-organization", "HeartbleedServerCertificate"],
        cwd=folder.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    function = aws.client("lambda").get_function_configuration(
        FunctionName="RDK-Rule-Function-HeartbleedServerCertificate"
    )
    assert function["Runtime"] == "python3.13"
    stack = aws.client("cloudformation").describe_stacks(StackName="HeartbleedServerCertificate")["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    body = aws.client("cloudformation").get_template(StackName="HeartbleedServerCertificate")["TemplateBody"]
    resources = (body if isinstance(body, dict) else json.loads(body))["Resources"]
    rule = next(r for r in resources.values() if r["Type"] == "AWS::Config::OrganizationConfigRule")
    # What rdk asked for: the organization rule on this function, with the rule folder's parameters.
    assert rule["Properties"]["OrganizationCustomRuleMetadata"]["LambdaFunctionArn"] == {
        "Fn::GetAtt": ["rdkRuleCodeLambda", "Arn"]
    }
    assert json.loads(parameters["SourceInputParameters"]) == json.loads((ROOT / "parameters.json").read_text())
    # Two facts docs/deployment.md warns of (route 4 uses rules/organization.yaml instead): rdk's rule gets the
    # periodic trigger only when a period is set, and without ExecutionRoleName rdklib would try to
    # assume each member's Config service-linked role, which Lambda cannot.
    triggers = rule["Properties"]["OrganizationCustomRuleMetadata"]["OrganizationConfigRuleTriggerTypes"]
    assert triggers["Fn::If"][:2] == ["PeriodicTriggered", ["ScheduledNotification"]]
    assert parameters["SourcePeriodic"] == "TwentyFour_Hours"
    assert "ExecutionRoleName" not in parameters["SourceInputParameters"]
    # What stops the last step: moto's CloudFormation skips AWS::Config::OrganizationConfigRule and
    # moto has no PutOrganizationConfigRule, so no organization rule exists in the double.
    created = aws.client("cloudformation").list_stack_resources(StackName="HeartbleedServerCertificate")
    assert "AWS::Config::OrganizationConfigRule" not in {r["ResourceType"] for r in created["StackResourceSummaries"]}
