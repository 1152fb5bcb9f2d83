"""The dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver,
driven by selenium) against a live skynetd and live echo-service processes on 127.0.0.1.

Run by `make test` (which builds the binaries and passes their folder as SKYNET_BIN):
    SKYNET_BIN=$(swift build --show-bin-path) python3 -m pytest -q Tests/browser
"""

import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BIN = os.environ.get("SKYNET_BIN", "")
WAIT = 20  # seconds any one expected change may take before the test fails


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process; a reader thread copies its stdout to a file and hands each line to
    `wait_for`, which waits on them (no polling)."""

    def __init__(self, name, args, directory, env=None):
        self.out_path = os.path.join(directory, f"{name}.out")
        self.err_path = os.path.join(directory, f"{name}.log")
        self.name = name
        self.lines = queue.Queue()
        with open(self.err_path, "w") as err:
            self.popen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True, env={**os.environ, **(env or {})})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        with open(self.out_path, "w") as out:
            for line in self.popen.stdout:
                out.write(line)
                out.flush()
                self.lines.put(line)
        self.lines.put(None)  # the process closed its output: it ended

    def wait_for(self, marker, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if marker in line:
                return line.strip()
        with open(self.err_path) as f:
            log = f.read()[-2000:]
        raise AssertionError(f"{self.name} did not print {marker!r} within {timeout} s (exit {self.popen.poll()}); log:\n{log}")

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="skynet-dashboard-") as directory:
        yield directory


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=ChromeService("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def waiter(browser):
    """Waits up to WAIT seconds; a row replaced while it was read (the page re-renders on every
    registry change) is read again rather than failing the test."""
    return WebDriverWait(browser, WAIT, ignored_exceptions=[StaleElementReferenceException])


def click(browser, css):
    """Clicks the element `css` finds, finding it again if the page replaced it meanwhile."""
    waiter(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, css).click() or True)


def attribute(browser, css, name):
    return waiter(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, css).get_attribute(name))


def sky_instances(coordinator, service):
    """What the registry says, through the `sky` CLI (not the dashboard)."""
    result = subprocess.run([os.path.join(BIN, "sky"), "instances", f"-coordinators={coordinator}", f"-service={service}", "-json"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_dashboard_follows_the_registry_and_acts_on_instances(workdir, browser):
    assert BIN and os.path.exists(os.path.join(BIN, "skynetd")), "set SKYNET_BIN to the folder holding skynetd (swift build --show-bin-path)"
    rpc_port, http_port = free_port(), free_port()
    coordinator = f"127.0.0.1:{rpc_port}"
    skynetd_args = [os.path.join(BIN, "skynetd"), "--dev", "--listen", coordinator, "--http", f"127.0.0.1:{http_port}",
                    "--data-dir", os.path.join(workdir, "data"), "--no-timer"]
    processes = []
    try:
        skynetd = Process("skynetd", skynetd_args, workdir)
        processes.append(skynetd)
        line = skynetd.wait_for("skynetd dashboard")
        url = line.split()[-1]
        assert url == f"http://127.0.0.1:{http_port}/", line

        browser.get(url)
        wait = waiter(browser)
        wait.until(lambda b: b.find_element(By.ID, "live").text == "live")

        # The echo service appears, under its region, soon after it starts.
        env = {"SKYNET_COORDINATORS": coordinator}
        started = time.monotonic()
        first = Process("echo-us", [os.path.join(BIN, "echo-service"), "-region=us", "-l", "127.0.0.1:0", "-admin", "127.0.0.1:0"], workdir, env)
        processes.append(first)
        first.wait_for("echo-service serving")
        us_row = 'section[data-region="us"] tr.instance[data-service="echo"]'
        wait.until(lambda b: b.find_element(By.CSS_SELECTOR, us_row))
        print(f"echo appeared in the dashboard {time.monotonic() - started:.2f} s after its process started")
        uuid = attribute(browser, us_row, "data-uuid")
        row = f'tr.instance[data-uuid="{uuid}"]'
        assert attribute(browser, row, "data-registered") == "true"

        # Unregister, through the confirmation step: the registry says registered: false,
        # and the page shows it.
        click(browser, f"{row} button.act-unregister")
        dialog = browser.find_element(By.ID, "confirm")
        assert dialog.is_displayed()
        assert "unregister echo" in browser.find_element(By.ID, "confirm-text").text
        browser.find_element(By.ID, "confirm-yes").click()
        wait.until(lambda b: b.find_element(By.CSS_SELECTOR, row).get_attribute("data-registered") == "false")
        assert [i["registered"] for i in sky_instances(coordinator, "echo") if i["uuid"] == uuid] == [False]
        assert [i["reason"] for i in sky_instances(coordinator, "echo") if i["uuid"] == uuid][0].startswith("unregistered: ")
        assert "unregistered: " in browser.find_element(By.CSS_SELECTOR, f"{row} span.reason").text, "the page says why"

        # Cancelling the confirmation does nothing.
        click(browser, f"{row} button.act-register")
        browser.find_element(By.ID, "confirm-no").click()
        assert not browser.find_element(By.ID, "confirm").is_displayed()
        assert [i["registered"] for i in sky_instances(coordinator, "echo") if i["uuid"] == uuid] == [False]

        # A second instance in another region appears under that region.
        second = Process("echo-eu", [os.path.join(BIN, "echo-service"), "-region=eu", "-l", "127.0.0.1:0", "-admin", "127.0.0.1:0"], workdir, env)
        processes.append(second)
        second.wait_for("echo-service serving")
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, 'section[data-region="eu"] tr.instance[data-service="echo"]'))
        assert len(browser.find_elements(By.CSS_SELECTOR, 'section[data-region="us"] tr.instance[data-service="echo"]')) == 1

        # Live figures asked of the instances on view fill in (memory is known at once).
        wait.until(lambda b: b.find_element(By.CSS_SELECTOR, f"{row} td:nth-child(9)").text not in ("", "–"))

        # skynetd restarts (same data, same ports): the page reconnects by itself and keeps
        # working: an action taken after the restart shows up.
        skynetd.stop()
        wait.until(lambda b: b.find_element(By.ID, "live").text == "reconnecting")
        skynetd = Process("skynetd-again", skynetd_args, workdir)
        processes.append(skynetd)
        skynetd.wait_for("skynetd dashboard")
        wait.until(lambda b: b.find_element(By.ID, "live").text == "live")
        click(browser, f"{row} button.act-register")
        browser.find_element(By.ID, "confirm-yes").click()
        wait.until(lambda b: b.find_element(By.CSS_SELECTOR, row).get_attribute("data-registered") == "true")
        assert [i["registered"] for i in sky_instances(coordinator, "echo") if i["uuid"] == uuid] == [True]

        # Stop, confirmed: the eu instance's process ends and it leaves the page.
        eu_uuid = attribute(browser, 'section[data-region="eu"] tr.instance[data-service="echo"]', "data-uuid")
        click(browser, f'tr.instance[data-uuid="{eu_uuid}"] button.act-stop')
        browser.find_element(By.ID, "confirm-yes").click()
        assert second.popen.wait(timeout=WAIT) == 0
        wait.until(lambda b: not b.find_elements(By.CSS_SELECTOR, f'tr.instance[data-uuid="{eu_uuid}"]'))

        # The other views answer from their JSON endpoints.
        browser.get(url + "#coordinator")
        wait.until(lambda b: "embedded" in b.find_element(By.ID, "coordinator").text)
        browser.get(url + "#tree")
        wait.until(lambda b: "services" in b.find_element(By.ID, "tree-body").text)

        browser.get(url)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, row))
        screenshot = os.path.join(tempfile.gettempdir(), f"skynet-dashboard-{os.getpid()}.png")
        assert browser.save_screenshot(screenshot)
        print(f"dashboard screenshot: {screenshot}")
    finally:
        for process in reversed(processes):
            process.stop()
