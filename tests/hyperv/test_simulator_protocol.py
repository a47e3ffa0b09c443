"""WinRM as real clients speak it: pywinrm and pypsrp, unmodified, over HTTP and HTTPS."""

from __future__ import annotations

import base64
import uuid

import pytest
import requests
import winrm
from pypsrp.client import Client
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError

from workers.hyperv.simulator.testing import run_simulator

from .conftest import PROLOGUE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_simulator():
    with run_simulator(tls=True) as handle:
        yield handle


def test_pywinrm_run_ps_over_http(session):
    response = session.run_ps(PROLOGUE + "Get-VMHost | Select-Object -ExpandProperty LogicalProcessorCount")
    assert (response.status_code, response.std_out, response.std_err) == (0, b"64\r\n", b"")


def test_pywinrm_run_ps_over_https_with_certificate_validation_off(tls_simulator):
    assert tls_simulator.url.startswith("https://")
    response = tls_simulator.session().run_ps(PROLOGUE + "'over tls'")
    assert (response.status_code, response.std_out) == (0, b"over tls\r\n")


def test_pywinrm_run_cmd(session):
    response = session.run_cmd("hostname")
    assert (response.status_code, response.std_out) == (0, b"HV-SIM01\r\n")


def test_an_unknown_cmd_command_fails_as_cmd_exe_does(session):
    response = session.run_cmd("frobnicate")
    assert response.status_code == 9009
    assert b"'frobnicate' is not recognized as an internal or external command" in response.std_err


@pytest.mark.parametrize("use_tls", [False, True])
def test_pypsrp_execute_cmd(simulator, tls_simulator, use_tls):
    handle = tls_simulator if use_tls else simulator
    client = Client(
        handle.host,
        port=handle.port,
        auth="basic",
        ssl=use_tls,
        cert_validation=False,
        encryption="never",
        username=handle.user,
        password=handle.password,
    )
    script = base64.b64encode((PROLOGUE + "'from pypsrp'").encode("utf-16-le")).decode()
    stdout, stderr, rc = client.execute_cmd(f"powershell -EncodedCommand {script}")
    assert (stdout, stderr, rc) == ("from pypsrp\r\n", "", 0)


def test_bad_credentials_answer_401(simulator):
    bad = winrm.Session(simulator.url, auth=(simulator.user, "wrong"), transport="plaintext")
    with pytest.raises(InvalidCredentialsError):
        bad.run_ps("1")


def test_control_api_needs_the_same_credentials(simulator):
    response = requests.get(simulator.url.replace("/wsman", "/_hvsim/state"), auth=(simulator.user, "wrong"), timeout=5)
    assert response.status_code == 401


def test_errors_arrive_as_one_clixml_document_and_exit_code_1(simulator):
    protocol = winrm.Protocol(
        simulator.url, username=simulator.user, password=simulator.password, transport="plaintext"
    )
    shell = protocol.open_shell()
    script = base64.b64encode(b"G\x00e\x00t\x00-\x00V\x00M\x00 \x00n\x00o\x00p\x00e\x00").decode()
    command = protocol.run_command(shell, f"powershell -encodedcommand {script}")
    stdout, stderr, code = protocol.get_command_output(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    text = stderr.decode()
    assert code == 1 and stdout == b""
    assert text.startswith("#< CLIXML\r\n<Objs ") and text.count("<Objs ") == 1
    assert (
        '<S S="Error">Get-VM : Hyper-V was unable to find a virtual machine with name "nope"._x000D__x000A_</S>' in text
    )


def test_pywinrm_cleans_the_clixml_into_the_message(session):
    response = session.run_ps(PROLOGUE + "Get-VM -Name nope")
    assert response.std_err.decode().startswith(
        'Get-VM : Hyper-V was unable to find a virtual machine with name "nope".'
    )


def test_encodedcommand_switch_is_case_insensitive_and_accepts_prefixes(session):
    script = base64.b64encode("'ok'".encode("utf-16-le")).decode()
    for switch in ("-EncodedCommand", "-ENCODEDCOMMAND", "-enc", "-e", "-ec"):
        response = session.run_cmd(f"PowerShell.exe -NoProfile -NonInteractive {switch} {script}")
        assert (response.status_code, response.std_out) == (0, b"ok\r\n"), switch


def test_powershell_command_form_runs_the_rest_of_the_line(session):
    response = session.run_cmd("powershell", ["-Command", "'a' + 'b'"])
    assert response.std_out == b"ab\r\n"


def test_a_command_line_over_8191_characters_is_too_long(session):
    response = session.run_ps("'" + "x" * 4000 + "'")
    assert response.status_code == 1
    assert response.std_err == b"The command line is too long.\r\n"


def test_a_command_line_just_under_the_limit_runs(session):
    script = "'" + "x" * 3000 + "' | Out-Null"
    assert len("powershell -encodedcommand " + base64.b64encode(script.encode("utf-16-le")).decode()) <= 8191
    assert session.run_ps(script).status_code == 0


def test_stdout_uses_code_page_437_by_default_and_utf8_when_asked(simulator):
    script = PROLOGUE + "'caf\u00e9 \u2713'"
    default = simulator.session().run_ps(script).std_out
    assert default == "café ?\r\n".encode("cp437")
    protocol = winrm.Protocol(
        simulator.url, username=simulator.user, password=simulator.password, transport="plaintext"
    )
    shell = protocol.open_shell(codepage=65001)
    command = protocol.run_command(
        shell, "powershell -encodedcommand " + base64.b64encode(script.encode("utf-16-le")).decode()
    )
    stdout, _, _ = protocol.get_command_output(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    assert stdout.decode("utf-8") == "café \u2713\r\n"


def test_receive_is_held_then_answered_with_the_timeout_fault(simulator):
    simulator.add_fault("hang", cmdlet="Start-Sleep", seconds=5, times=1)
    protocol = winrm.Protocol(
        simulator.url,
        username=simulator.user,
        password=simulator.password,
        transport="plaintext",
        operation_timeout_sec=1,
        read_timeout_sec=3,
    )
    shell = protocol.open_shell()
    command = protocol.run_command(
        shell, "powershell -encodedcommand " + base64.b64encode("Start-Sleep -Seconds 0".encode("utf-16-le")).decode()
    )
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)


def test_an_unknown_shell_gets_the_shell_not_found_fault(simulator):
    protocol = winrm.Protocol(
        simulator.url, username=simulator.user, password=simulator.password, transport="plaintext"
    )
    missing = str(uuid.uuid4()).upper()
    with pytest.raises(WSManFaultError) as error:
        protocol.run_command(missing, "hostname")
    assert error.value.code == 500
    assert error.value.wsman_fault_code == 2150858843
    assert missing in error.value.reason


def test_relates_to_echoes_the_request_message_id_verbatim(simulator):
    message_id = "uuid:abcdef00-0000-0000-0000-00000000ABCD"
    envelope = f"""<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
 xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header>
 <a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action><a:MessageID>{message_id}</a:MessageID>
 <w:OperationTimeout>PT20S</w:OperationTimeout></s:Header><s:Body><rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>
 <rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell></s:Body></s:Envelope>"""
    response = requests.post(
        simulator.url,
        data=envelope,
        auth=(simulator.user, simulator.password),
        timeout=5,
        headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
    )
    assert response.status_code == 200
    assert f"<a:RelatesTo>{message_id}</a:RelatesTo>" in response.text
    assert "CreateResponse</a:Action>" in response.text


def test_faults_are_sent_with_http_500(simulator):
    response = requests.post(simulator.url, data="<not-xml", auth=(simulator.user, simulator.password), timeout=5)
    assert response.status_code == 500
    assert "WSManFault" in response.text


def test_tls_with_a_given_certificate_and_key_presents_that_certificate(tmp_path):
    import ssl

    from cryptography import x509

    from workers.hyperv.simulator.tls import self_signed_files

    cert, key = self_signed_files("hvsim.example", str(tmp_path))
    with run_simulator(cert=cert, key=key) as sim:
        assert sim.url.startswith("https://")
        presented = x509.load_pem_x509_certificate(ssl.get_server_certificate((sim.host, sim.port)).encode())
        assert presented == x509.load_pem_x509_certificate(open(cert, "rb").read())
        assert sim.session().run_ps("'ok'").std_out == b"ok\r\n"


def test_output_bigger_than_max_envelope_size_arrives_over_several_receives(simulator):
    protocol = winrm.Protocol(
        simulator.url, username=simulator.user, password=simulator.password, transport="plaintext"
    )
    shell = protocol.open_shell()
    script = base64.b64encode(("'x' * 300000").encode("utf-16-le")).decode()
    command = protocol.run_command(shell, f"powershell -encodedcommand {script}")
    first, _, _, done = protocol.get_command_output_raw(shell, command)
    assert not done and 0 < len(first) < 153600
    rest, _, code = protocol.get_command_output(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    assert first + rest == b"x" * 300000 + b"\r\n" and code == 0


def test_module_first_use_progress_lands_on_stderr_unless_progress_is_silenced(session):
    noisy = session.run_ps("Get-VMHost | Out-Null")
    assert noisy.status_code == 0
    assert b"Preparing modules for first use." in noisy.std_err and noisy.std_err.startswith(b"#< CLIXML")
    quiet = session.run_ps("$ProgressPreference = 'SilentlyContinue'; Get-VMHost | Out-Null")
    assert (quiet.status_code, quiet.std_err) == (0, b"")


def test_shells_beyond_the_per_user_quota_are_refused_until_one_closes():
    with run_simulator(max_shells_per_user=2) as sim:
        protocol = winrm.Protocol(sim.url, username=sim.user, password=sim.password, transport="plaintext")
        shells = [protocol.open_shell(), protocol.open_shell()]
        with pytest.raises(WSManFaultError) as error:
            protocol.open_shell()
        assert error.value.wsman_fault_code == 2150859174
        assert "maximum number of 2 concurrent shells" in error.value.reason
        protocol.close_shell(shells.pop())
        protocol.close_shell(protocol.open_shell())


def test_receive_answers_have_the_shape_of_the_recorded_host_traffic(simulator):
    import xml.etree.ElementTree as ET

    protocol = winrm.Protocol(
        simulator.url, username=simulator.user, password=simulator.password, transport="plaintext"
    )
    answers: list[bytes] = []
    send = protocol.send_message
    protocol.send_message = lambda message: answers.append(send(message)) or answers[-1]
    shell = protocol.open_shell()
    script = base64.b64encode("Write-Error 'Error'".encode("utf-16-le")).decode()
    command = protocol.run_command(shell, f"powershell -encodedcommand {script}")
    protocol.get_command_output(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    ns = {
        "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
        "s": "http://www.w3.org/2003/05/soap-envelope",
    }
    receive = ET.fromstring(answers[2]).find("s:Body/rsp:ReceiveResponse", ns)
    stderr = [base64.b64decode(s.text) for s in receive.findall("rsp:Stream[@Name='stderr']", ns) if s.text]
    assert stderr[0] == b"#< CLIXML\r\n" and stderr[1].startswith(b"<Objs ") and len(stderr) == 2
    ends = {s.get("Name") for s in receive.findall("rsp:Stream", ns) if s.get("End") == "true"}
    assert ends == {"stdout", "stderr"}
    state = receive.find("rsp:CommandState", ns)
    assert state.get("State").endswith("CommandState/Done") and state.find("rsp:ExitCode", ns).text == "1"


# The stderr of `Write-Error "Error"` as recorded from a real host (shared/data/winrm-recorded/
# get_ps_output_response.xml, from pywinrm's test suite), second chunk, decoded.
RECORDED_WRITE_ERROR_CLIXML = (
    b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    b'<S S="Error">Write-Error "Error" : Error_x000D__x000A_</S>'
    b'<S S="Error">    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorExcep _x000D__x000A_</S>'
    b'<S S="Error">   tion_x000D__x000A_</S>'
    b'<S S="Error">    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorExceptio _x000D__x000A_</S>'
    b'<S S="Error">   n_x000D__x000A_</S><S S="Error"> _x000D__x000A_</S></Objs>'
)


def test_write_error_stderr_is_byte_for_byte_what_a_real_host_sent(simulator):
    protocol = winrm.Protocol(
        simulator.url, username=simulator.user, password=simulator.password, transport="plaintext"
    )
    shell = protocol.open_shell()
    script = base64.b64encode('Write-Error "Error"'.encode("utf-16-le")).decode()
    command = protocol.run_command(shell, f"powershell -encodedcommand {script}")
    stdout, stderr, code = protocol.get_command_output(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    assert (stdout, stderr, code) == (b"", b"#< CLIXML\r\n" + RECORDED_WRITE_ERROR_CLIXML, 1)


def test_psrp_is_refused_with_a_fault_that_says_so(simulator):
    from pypsrp.exceptions import WSManFaultError as PypsrpFault

    client = Client(
        simulator.host,
        port=simulator.port,
        auth="basic",
        ssl=False,
        encryption="never",
        username=simulator.user,
        password=simulator.password,
        operation_timeout=5,
    )
    with pytest.raises(PypsrpFault) as error:
        client.execute_ps("1")
    assert "only the cmd shell" in str(error.value)
