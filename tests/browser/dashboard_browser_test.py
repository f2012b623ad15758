#!/usr/bin/env python3
"""The supervisors' dashboard in a real headless Chromium.

Starts the built callguard-server with a fresh alert database and the dashboard on a free port,
opens the live feed, streams calls through gRPC with `callguard replay --server`, and checks
what a supervisor sees: every alert the server raised appears on the live page (pushed, no
reload), colored by severity, filterable, with markup in stored text shown as text; the call's
timeline shows the utterances with the evidence words highlighted and the alert's regulation
and coaching; an acknowledgement made on the timeline is stored and shown, and one made by
another supervisor reaches the open live page by itself; the charts and active-calls pages
render; the browser logged no error (a blocked script or style would show there).

Speaks the W3C WebDriver protocol to chromedriver over HTTP with the standard library only.

    dashboard_browser_test.py --server BIN --cli BIN --call FILE.jsonl
        [--chromium PATH] [--chromedriver PATH] [--screenshot OUT.png]

--screenshot saves the live page at the end (the README's picture comes from this).
"""

import argparse
import base64
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key
# Bounds for things that should happen at once: reaching them means the test failed, they are
# not measurements.
PATIENCE_S = 20


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=PATIENCE_S) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for(what, probe, timeout=PATIENCE_S):
    """Polls `probe` until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except TestFailure:
            raise
        except Exception as error:  # a stale element while the page re-renders: try again
            last_error = error
        time.sleep(0.1)
    raise TestFailure(f"timed out waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


class WebDriver:
    """A minimal W3C WebDriver client for one Chromium session."""

    def __init__(self, chromedriver, chromium, profile_dir, log_path):
        self.port = free_port()
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [chromedriver, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for("chromedriver to answer", self._ready)
        args = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--window-size=1280,1000", f"--user-data-dir={profile_dir}",
        ]
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }
        value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.session = value["sessionId"]

    def _ready(self):
        try:
            with urllib.request.urlopen(self.base + "/status", timeout=2) as response:
                return json.loads(response.read())["value"].get("ready")
        except OSError:
            return False

    def _call(self, method, path, body=None):
        status, answer = http_json(method, self.base + path, body if body is not None else ({} if method == "POST" else None))
        value = (answer or {}).get("value")
        if status != 200:
            message = value.get("message") if isinstance(value, dict) else value
            raise RuntimeError(f"WebDriver {method} {path}: {status} {message}")
        return value

    def _session(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url):
        self._session("POST", "/url", {"url": url})

    def find_all(self, css, within=None):
        path = f"/element/{within}/elements" if within else "/elements"
        return [e[ELEMENT] for e in self._session("POST", path, {"using": "css selector", "value": css})]

    def find(self, css, within=None):
        found = self.find_all(css, within)
        return found[0] if found else None

    def text(self, element):
        return self._session("GET", f"/element/{element}/text")

    def attribute(self, element, name):
        return self._session("GET", f"/element/{element}/attribute/{name}")

    def property(self, element, name):
        return self._session("GET", f"/element/{element}/property/{name}")

    def click(self, element):
        self._session("POST", f"/element/{element}/click")

    def clear(self, element):
        self._session("POST", f"/element/{element}/clear")

    def type(self, element, text):
        self._session("POST", f"/element/{element}/value", {"text": text})

    def script(self, source, *args):
        return self._session("POST", "/execute/sync", {"script": source, "args": list(args)})

    def screenshot(self, path):
        png = base64.b64decode(self._session("GET", "/screenshot"))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as out:
            out.write(png)

    def browser_log(self):
        try:
            return self._session("POST", "/se/log", {"type": "browser"}) or []
        except RuntimeError:
            return []  # a chromedriver without the log endpoint: nothing to check

    def quit(self):
        try:
            if getattr(self, "session", None):
                self._session("DELETE", "")
        except Exception:
            pass
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Server:
    """The built callguard-server on free ports, with its ready line parsed."""

    def __init__(self, binary, db_path, log_path):
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--db", db_path],
            stdout=subprocess.PIPE, stderr=self.log)
        try:
            self._read_ready_line()
        except BaseException:
            self.stop()  # never leave a server behind
            raise

    def _read_ready_line(self):
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l.decode(errors="replace")) for l in self.process.stdout],
                         daemon=True).start()
        try:
            self.ready_line = lines.get(timeout=60).strip()
        except queue.Empty:
            raise TestFailure("callguard-server printed no ready line")
        # "callguard-server listening on HOST:PORT (...; dashboard: http://HOST:PORT/)"
        grpc = re.search(r"listening on (\S+:\d+)", self.ready_line)
        http = re.search(r"dashboard: https?://(\[?[\w.:]+?\]?:\d+)", self.ready_line)
        check(grpc and http, f"no gRPC and dashboard address in the ready line: {self.ready_line!r}")
        self.grpc_address = grpc.group(1)
        self.url = f"http://{http.group(1)}"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def run(args, work):
    for tool, path in (("chromium", args.chromium), ("chromedriver", args.chromedriver)):
        check(shutil.which(path) or os.path.exists(path),
              f"{tool} not found ({path}): install chromium and chromium-driver (scripts/setup.sh)")

    server = Server(args.server, os.path.join(work, "callguard.db"), os.path.join(work, "server.log"))
    browser = None
    try:
        print(f"server: {server.ready_line}")
        status, health = http_json("GET", server.url + "/healthz")
        check(status == 200 and health["status"] == "ok", f"/healthz: {status} {health}")

        browser = WebDriver(args.chromedriver, args.chromium, os.path.join(work, "profile"),
                            os.path.join(work, "chromedriver.log"))
        live_page_checks(browser, server, args)
        print("dashboard browser test: PASS")
    except Exception:
        for name in ("server.log", "chromedriver.log"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                with open(path, errors="replace") as log:
                    tail = log.read()[-3000:]
                print(f"--- {name} (tail) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        if browser is not None:
            browser.quit()
        server.stop()


def card_for(browser, alert_id_to_sequence, alert):
    sequence = alert_id_to_sequence.get(alert["alertId"])
    return browser.find(f'article.alert[data-sequence="{sequence}"]') if sequence else None


def live_page_checks(browser, server, args):
    # 1. The live feed is open and connected before anything happens.
    browser.get(server.url + "/")
    wait_for("the live feed to connect its event stream",
             lambda: browser.attribute(browser.find("#connection"), "data-state") == "live")
    check(not browser.find_all("article.alert"), "a fresh database shows no alerts")

    # 2. Calls stream through gRPC, as a dialer would send them.
    started = time.monotonic()
    replay = subprocess.run([args.cli, "replay", args.call, "--server", server.grpc_address],
                            capture_output=True, text=True, timeout=120)
    check(replay.returncode == 0, f"callguard replay failed ({replay.returncode}): {replay.stderr}")
    alerts = [json.loads(line) for line in replay.stdout.splitlines() if line.strip()]
    check(any(a["violation"] == "THIRD_PARTY_DISCLOSURE" for a in alerts),
          f"the third-party call raised no THIRD_PARTY_DISCLOSURE alert: {replay.stdout}")

    # The stored sequence of each alert, to find its card. The store commits in the background,
    # so the last alerts may land a moment after the calls got them.
    expected_ids = {a["alertId"] for a in alerts}

    def stored_sequences():
        status, page = http_json("GET", server.url + "/api/alerts?page_size=100")
        check(status == 200, f"/api/alerts: {status} {page}")
        found = {a["alert"]["alertId"]: a["sequence"] for a in page["alerts"]}
        check(set(found) <= expected_ids,
              f"stored alerts {sorted(found)} include some the calls never got {sorted(expected_ids)}")
        return found if set(found) == expected_ids else None

    sequences = wait_for(f"the store to hold the alerts the calls got {sorted(expected_ids)}", stored_sequences)

    # 3. Every alert appears on the open page by itself, colored by its severity.
    wait_for("every alert on the live page", lambda: all(card_for(browser, sequences, a) for a in alerts))
    print(f"alerts on the live page {time.monotonic() - started:.2f} s after the replay started")
    check(len(browser.find_all("article.alert")) == len(alerts), "one card per alert")
    for alert in alerts:
        card = card_for(browser, sequences, alert)
        severity = alert["severity"].replace("SEVERITY_", "").lower()
        check(f"sev-{severity}" in browser.attribute(card, "class").split(),
              f"card of {alert['alertId']} is not colored {severity}")
        check(alert["message"] in browser.text(card), f"card of {alert['alertId']} lacks its message")
    disclosure = next(a for a in alerts if a["violation"] == "THIRD_PARTY_DISCLOSURE")

    # 4. Filters: by agent, then by severity, then cleared.
    form = browser.find("#filters")
    agent_input = browser.find('input[name="agent"]', form)
    browser.type(agent_input, "C2207")
    browser.click(browser.find('button[type="submit"]', form))
    wait_for("the agent filter", lambda: len(browser.find_all("article.alert")) == sum(
        1 for a in alerts if a["agentId"] == "C2207"))
    browser.click(browser.find("#clear-filters"))
    wait_for("all alerts after clearing the filter",
             lambda: len(browser.find_all("article.alert")) == len(alerts))
    browser.script("const s = document.querySelector('select[name=min_severity]'); s.value = 'CRITICAL';")
    browser.click(browser.find('#filters button[type="submit"]'))
    critical = sum(1 for a in alerts if a["severity"] == "SEVERITY_CRITICAL")
    wait_for("the severity filter", lambda: len(browser.find_all("article.alert")) == critical
             and "min_severity=CRITICAL" in browser.script("return location.search;"))
    browser.click(browser.find("#clear-filters"))
    wait_for("all alerts again", lambda: len(browser.find_all("article.alert")) == len(alerts))

    # 5. The call's timeline, from the card's link.
    card = card_for(browser, sequences, disclosure)
    browser.click(browser.find("a.call-link", card))
    wait_for("the call's timeline", lambda: browser.script("return location.pathname;") ==
             "/calls/" + disclosure["callId"] and len(browser.find_all(".utterance")) > 0)
    with open(args.call) as calls:
        call = next(c for c in map(json.loads, calls) if c["callId"] == disclosure["callId"])
    wait_for("every utterance", lambda: len(browser.find_all(".utterance")) == len(call["turns"]))
    turn = browser.find(f'.utterance[data-turn="{disclosure["turn"]}"]')
    marked = [browser.text(m) for m in browser.find_all("mark", turn)]
    expected = [e["text"] for e in disclosure["evidence"]]
    check(marked == expected, f"highlighted {marked}, want the evidence {expected}")
    check(browser.text(browser.find(f'.utterance[data-turn="{disclosure["turn"]}"] .text')) ==
          call["turns"][disclosure["turn"]]["text"], "the highlighted utterance lost or changed text")
    timeline_card = browser.find("article.alert")
    citations = browser.text(browser.find(".citations", timeline_card))
    for citation in disclosure["citations"]:
        check(citation["section"] in citations, f"regulation {citation['section']} not shown")
    check(browser.text(browser.find(".coaching", timeline_card)).endswith(disclosure["coaching"]),
          "the coaching message is not shown")
    facts = browser.text(browser.find("#call-facts"))
    check("Rachel Moreno (C2207)" in facts and "ended" in facts, f"call facts: {facts!r}")

    # 6. Acknowledge it there: name and note, stored and shown.
    browser.click(browser.find(".ack-btn", timeline_card))
    browser.type(wait_for("the acknowledge form", lambda: browser.find('.ack-form input[name="supervisor"]')),
                 "Maya Chen")
    browser.type(browser.find('.ack-form textarea[name="note"]'), "Coached Rachel on third-party rules")
    browser.click(browser.find('.ack-form button[type="submit"]'))
    status_text = wait_for("the acknowledgement on the timeline",
                           lambda: browser.find(".ack-status") and browser.text(browser.find(".ack-status")))
    check("Acknowledged by Maya Chen" in status_text and "Coached Rachel" in status_text,
          f"acknowledgement shown as {status_text!r}")
    status, stored = http_json("GET", f"{server.url}/api/alerts/{sequences[disclosure['alertId']]}")
    check(status == 200 and stored.get("acknowledgement", {}).get("supervisor") == "Maya Chen",
          f"the acknowledgement was not stored: {stored}")

    # 7. Back on the live page it shows as handled; another supervisor's acknowledgement of a
    # second alert arrives by itself.
    browser.get(server.url + "/")
    wait_for("the acknowledged card", lambda: "Acknowledged by Maya Chen" in browser.text(
        card_for(browser, sequences, disclosure)))
    wait_for("the live feed to reconnect",
             lambda: browser.attribute(browser.find("#connection"), "data-state") == "live")
    other = next((a for a in alerts if a["alertId"] != disclosure["alertId"]), None)
    if other is not None:
        status, _ = http_json("POST", f"{server.url}/api/alerts/{sequences[other['alertId']]}/ack",
                              {"supervisor": "Luis Ortega", "note": "listened to the recording"})
        check(status == 200, f"acknowledge through the API: {status}")
        wait_for("another supervisor's acknowledgement pushed to the page",
                 lambda: "Acknowledged by Luis Ortega" in browser.text(card_for(browser, sequences, other)))
    summary = browser.text(browser.find("#summary"))
    check(f"{len(alerts)} alerts shown" in summary, f"summary: {summary!r}")

    if args.screenshot:
        browser.script("window.scrollTo(0, 0);")
        browser.screenshot(args.screenshot)
        print(f"screenshot: {args.screenshot}")

    # 8. Stored text is text: markup in an acknowledgement pushed to the open page is shown
    # literally and never runs.
    third = next((a for a in alerts if a["alertId"] not in (disclosure["alertId"], other and other["alertId"])), None)
    if third is not None:
        probe = '<img src=x onerror="document.title=\'injected\'">Eve'
        status, _ = http_json("POST", f"{server.url}/api/alerts/{sequences[third['alertId']]}/ack",
                              {"supervisor": probe, "note": "<b>bold</b> claim"})
        check(status == 200, f"acknowledge with markup: {status}")
        card = card_for(browser, sequences, third)
        wait_for("the acknowledgement with markup", lambda: "Eve" in browser.text(card))
        shown = browser.text(browser.find(".ack-status", card))
        check(probe in shown and "<b>bold</b> claim" in shown, f"markup not shown as text: {shown!r}")
        check(not browser.find_all(".ack-status img, .ack-status .note b", card), "markup became elements")
        check(browser.script("return document.title;") != "injected", "injected script ran")

    # 9. The charts count the alerts per kind and per agent.
    browser.get(server.url + "/charts")
    wait_for("the charts", lambda: browser.find_all("#chart-agent svg rect"))
    agent_chart = browser.script("return document.querySelector('#chart-agent svg').textContent;")
    for agent in {a["agentId"] for a in alerts}:
        check(agent in agent_chart, f"agent {agent} missing from the per-agent chart")
    check(f"{len(alerts)} alerts from" in browser.text(browser.find("#summary")), "charts summary")
    check(browser.find_all("#chart-time svg rect"), "no bars in the chart over time")

    # 10. Active calls: the replayed calls have ended, so the page says none are in progress.
    browser.get(server.url + "/calls")
    wait_for("the active calls page", lambda: browser.property(browser.find("#empty"), "hidden") is False)
    check(not browser.find_all("#calls tbody tr"), "ended calls listed as active")

    # 11. Nothing went wrong in the page's own eyes (CSP refusals, script errors, failed loads).
    errors = [e for e in browser.browser_log() if e.get("level") == "SEVERE"]
    check(not errors, f"the browser logged errors: {errors}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="the callguard-server binary")
    parser.add_argument("--cli", required=True, help="the callguard CLI binary")
    parser.add_argument("--call", required=True, help="calls to replay (transcript JSONL)")
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--chromedriver", default="chromedriver")
    parser.add_argument("--screenshot", help="save the live page as this PNG")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, database)")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="callguard-browser-")
    try:
        run(args, work)
    except TestFailure as failure:
        print(f"dashboard browser test: FAIL: {failure}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
