"""The pytest plugin integrators get with the package (``api.testing``), used as an outside
project uses it: a test file of its own, run by pytest in a directory of its own, finding the
fixtures through the installed entry point, with no conftest and no import of ours."""

from __future__ import annotations

import pytest

OUTSIDE_PROJECT_TEST = """
import hashlib, json, os, urllib.request


def test_a_department_registers_and_an_auditor_verifies(provledger_client, provledger_auditor):
    data = os.urandom(256)
    content = "0x" + hashlib.sha256(data).hexdigest()
    accepted = provledger_client.create_dataset(content, title="integration test")
    operation = provledger_client.wait_for_operation(accepted.operation_id, timeout=60)
    assert operation.status == "confirmed"
    verdict = provledger_auditor.verify_batch([content])
    assert verdict["counts"] == {"matched": 1}


def test_the_second_department_asks_the_first_for_access(provledger_service):
    with provledger_service.client(1) as health, provledger_service.client(2) as transport:
        created = health.create_dataset("0x" + os.urandom(32).hex(), title="beds")
        health.wait_for_operation(created.operation_id, timeout=60)
        dataset = created.resource["dataset_id"]
        asked = transport.request_access(dataset, purpose="study", duration_seconds=3600)
        assert transport.wait_for_operation(asked.operation_id, timeout=60).status == "confirmed"
        assert health.has_access(dataset, 2)["has_access"] is False


def test_any_http_client_and_the_chain_itself_are_reachable(provledger_service):
    with urllib.request.urlopen(provledger_service.url + "/healthz") as health:
        assert health.status == 200
    call = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(
        provledger_service.rpc_url, call.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as reply:
        answer = json.loads(reply.read())
    assert int(answer["result"], 16) == provledger_service.runtime.chain.chain_id
    assert provledger_service.deployment["dataset_registry"].startswith("0x")
"""


def test_an_outside_project_gets_a_running_ledger_with_two_departments_and_clients(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_integration=OUTSIDE_PROJECT_TEST)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_the_plugin_stays_out_of_the_way_of_a_project_that_does_not_use_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "--fixtures")
    result.stdout.fnmatch_lines(["*provledger_service*", "*provledger_client*"])
    ran = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    ran.assert_outcomes(passed=1)
    assert "provledger" not in ran.stdout.str().lower().replace("no:cacheprovider", "")
