"""The web view's pages in a real browser: headless Chromium driven by Playwright, against classify.py with the
real model on an endless MJPEG camera (tests/live.py), with an events folder of a dozen events."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import logging
import os
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import cv2
import pytest
from conftest import ARM_WRESTLING, CARVING_ICE, REPO, free_port, need_binary, skip_or_fail
from live import DOWN, UP, LiveApp, StreamServer
from test_web import CHROMIUM_FLAGS, another_site, page_token, pipeline_running, post, results

from utils.events.clip import choose_clip_format
from utils.events.event import Event
from utils.events.journal import Journal
from utils.events.tracker import event_id
from utils.sinks import Command
from utils.sinks.web import WebSink
from utils.sinks.web_access import TOKEN_HEADER
from utils.sources import sampled_frames

DOCS = REPO / "docs"
NAME = "kitchen"
WATCHED = "arm wrestling"  # the camera shows it: the running app has an event going on
LABELS = ("carving ice", "juggling soccer ball", "arm wrestling")
WAIT_MS = 60_000  # every wait for the page is bounded by this (a loaded machine is slow, never this slow)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -r requirements-dev.txt)")
    executable = need_binary("chromium", "chromium")  # the system's Chromium: Playwright downloads no browser
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    yield opened
    context.close()


@pytest.fixture(scope="module")
def camera():
    server = StreamServer(ARM_WRESTLING)
    yield server
    server.close()


@pytest.fixture(scope="module")
def events_dir(tmp_path_factory) -> Path:
    """Twelve ended events over two days and three actions, written by the app's own Journal, with snapshots
    from the clips and one H.264 clip as the recorder writes it; and one that lost its end (a power cut)."""
    folder = tmp_path_factory.mktemp("events")
    frames = [frame.image for frame in sampled_frames(CARVING_ICE, 0)][:60]
    journal = Journal(folder)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for i in range(13):
        label = LABELS[i % 3]
        start = now - timedelta(hours=3 * (13 - i))
        event = Event(event_id(label, start), label, "test", 10.0 * i, 300 * i, start, 0.70 + i / 100, 300 * i + 5)
        files = [f"{event.id}.jpg"]
        cv2.imwrite(str(folder / files[0]), frames[i])
        if i == 11:
            clip_format = choose_clip_format(folder)
            assert clip_format.browser_plays, clip_format.name
            writer = clip_format.open(folder / f"{event.id}.mp4", frames[0].shape[1::-1], 30.0)
            for n, image in enumerate(frames):
                writer.write(image, n / 30)
            writer.close()
            files.insert(0, f"{event.id}.mp4")
        journal.on_start(event)
        if i != 12:  # the last one never ended
            ended = event.ended(event.start + 2.0 + i, start + timedelta(seconds=2 + i), "ended")
            journal.on_end(dataclasses.replace(ended, files=tuple(files)))
    journal.close()
    return folder


def journal_lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def start_app(camera: StreamServer, port: int, *args: str, env: dict[str, str] | None = None) -> LiveApp:
    """classify.py --display web on the camera; returns once the first result is served."""
    app = LiveApp("--video", f"{camera.url}/live.mjpg", "--display", "web", "--web-port", str(port), "--name", NAME,
                  *args, env=env)
    app.wait_for(lambda: f"web view: http://127.0.0.1:{port}/" in app.log, "the web view")
    return app


@pytest.fixture(scope="module")
def app(camera, events_dir):
    """The app watching arm wrestling, with the events folder: one event of this run is going on."""
    port = free_port()
    running = start_app(camera, port, "--event", WATCHED, "--events-dir", str(events_dir))
    running.base = f"http://127.0.0.1:{port}/"
    try:
        running.wait_for(lambda: any(e["state"] == "going on" for e in events_json(running.base)["events"]),
                         "an event going on")
        yield running
    finally:
        running.kill()


def shows_top_1(page, label: str) -> None:
    """Waits until the live page's results panel has `label` on top."""
    page.wait_for_function("label => document.querySelector('#results .label')?.textContent.startsWith(label)",
                           arg=label)


def events_json(base: str, query: str = "") -> dict:
    with urllib.request.urlopen(f"{base}events.json{query}", timeout=10) as response:
        return json.loads(response.read())


def test_the_live_page_keeps_the_video_aspect_ratio_beside_a_long_events_list(app, page):
    page.goto(app.base)
    page.wait_for_function("() => document.querySelectorAll('#events a.event').length >= 5")
    shows_top_1(page, WATCHED)
    page.wait_for_function("() => document.getElementById('video').naturalWidth > 0")
    box = page.evaluate("""() => {
        const video = document.getElementById('video').getBoundingClientRect();
        const img = document.getElementById('video');
        return {width: video.width, height: video.height, naturalWidth: img.naturalWidth,
                naturalHeight: img.naturalHeight, panel: document.getElementById('panel').offsetHeight};
    }""")
    assert box["panel"] > box["height"] + 100, f"the events list is taller than the video: {box}"
    assert (box["naturalWidth"], box["naturalHeight"]) == (638, 480)
    assert box["width"] / box["height"] == pytest.approx(638 / 480, rel=0.01), f"stretched: {box}"

    assert page.title() == f"{NAME} · live"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", page.text_content("#clock")), "the clock shows the app's time"
    going_on = page.locator("#events a.event", has_text="going on")
    assert going_on.count() == 1 and "frame.jpg" in going_on.locator("img.live").get_attribute("src")
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / "web.png"))
        shot = cv2.imread(str(DOCS / "web.png"))
        cv2.imwrite(str(DOCS / "web.jpg"), shot, [cv2.IMWRITE_JPEG_QUALITY, 85])
        (DOCS / "web.png").unlink()


def refreshed(page, path: str, times: int = 2) -> None:
    """Waits until the page has had `times` more answers to its requests of `path` (its list's refreshes)."""
    for _ in range(times):
        with page.expect_response(lambda response: path in response.url, timeout=WAIT_MS):
            pass
    page.wait_for_timeout(200)  # the answer is shown


@pytest.mark.parametrize(("address", "rows", "source"), [("", "#events a.event", "events.json?per_page=5"),
                                                         ("events", "#list a.event", "events.json?")])
def test_the_event_lists_refresh_without_losing_the_keyboard_focus(app, page, address, rows, source):
    """A keyboard user tabs to an event; the list's refresh (every 3 s, 5 s on the events page) keeps that
    row, its focus and its picture, instead of building every row afresh."""
    page.goto(app.base + address)
    page.wait_for_function(f"() => document.querySelectorAll('{rows}').length >= 3")
    page.wait_for_function(f"() => document.querySelectorAll('{rows}')[2].querySelector('img').naturalWidth > 0")
    page.evaluate(f"() => document.querySelectorAll('{rows}').forEach((row, i) => row.shownBefore = i)")
    page.focus(f"{rows} >> nth=2")
    refreshed(page, source)
    assert page.evaluate("() => document.activeElement.shownBefore") == 2, "the focused row was replaced"
    assert page.evaluate(f"() => [...document.querySelectorAll('{rows}')].every(row => 'shownBefore' in row)")
    assert page.evaluate(f"() => document.querySelectorAll('{rows}')[2].querySelector('img').naturalWidth") > 0
    page.keyboard.press("Tab")  # and the keyboard goes on from there
    assert page.evaluate("() => document.activeElement.shownBefore") == 3


def test_the_player_seeks_in_an_event_clip(app, events_dir, page):
    """The server answers Range requests: without them the browser's player could not seek in a clip (no
    seekable range; its length grew as it loaded, "0:00 / 0:02" for a clip of 32 s)."""
    (with_clip,) = [e for e in events_json(app.base, "?per_page=100")["events"] if e.get("clip")]
    size = (events_dir / with_clip["clip"].split("/")[-1]).stat().st_size
    request = urllib.request.Request(app.base + with_clip["clip"], headers={"Range": "bytes=100-199"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 206 and len(response.read()) == 100
        assert response.headers["Content-Range"] == f"bytes 100-199/{size}"
    page.goto(f"{app.base}event?id={with_clip['id']}")
    page.wait_for_function("() => document.getElementById('clip').readyState >= 1")
    assert page.evaluate("() => document.getElementById('clip').duration") == pytest.approx(2.0, abs=0.1)
    seekable = page.evaluate("() => { const s = document.getElementById('clip').seekable; "
                             "return s.length ? s.end(s.length - 1) : 0; }")
    assert seekable == pytest.approx(2.0, abs=0.1), "the player cannot seek in the clip"
    page.evaluate("() => document.getElementById('clip').currentTime = 1.5")
    page.wait_for_function("() => !document.getElementById('clip').seeking")
    assert page.evaluate("() => document.getElementById('clip').currentTime") == pytest.approx(1.5, abs=0.1)


def test_the_events_pages_browse_filter_play_and_delete(app, events_dir, page):
    everything = events_json(app.base, "?per_page=100")
    total = everything["total"]
    assert total >= 14 and everything["labels"] == sorted(LABELS)  # 13 written, 1 (at least) of this run
    states = [e["state"] for e in everything["events"]]
    assert states.count("going on") == 1 and states.count("unfinished") == 0
    # The one that lost its end was closed as the app started, with the snapshot it had.
    interrupted, = [e for e in everything["events"] if e["reason"] == "interrupted"]
    assert interrupted["state"] == "ended" and "snapshot" in interrupted

    page.goto(app.base + "events")
    page.wait_for_function("() => document.querySelectorAll('#list a.event').length > 0")
    assert page.title() == f"{NAME} · events"
    assert page.text_content("#summary") == f"{total} events"
    assert page.locator("#list a.event").count() == 10
    assert page.text_content("#page") == f"page 1 of {-(-total // 10)}"
    page.click("#older")
    page.wait_for_function("() => document.getElementById('page').textContent.startsWith('page 2')")
    page.wait_for_function(f"() => document.querySelectorAll('#list a.event').length === {min(10, total - 10)}")

    # By action, then by day: the address keeps the choice.
    page.select_option("select[name=label]", "carving ice")
    page.wait_for_url(re.compile(r"label=carving\+ice"))
    page.wait_for_function("() => document.getElementById('summary').textContent !== 'loading...'")
    rows = page.locator("#list a.event")
    carving = [e for e in everything["events"] if e["label"] == "carving ice"]
    assert page.text_content("#summary") == f"{len(carving)} events"
    assert rows.count() == len(carving) and all(t.startswith("carving ice, ") for t in rows.all_text_contents())
    ended = next(e for e in carving if e["state"] == "ended")
    page.select_option("select[name=day]", ended["day"])
    page.wait_for_url(re.compile(f"day={ended['day']}"))
    page.wait_for_function(f"() => document.querySelectorAll('#list a.event').length === "
                           f"{sum(e['day'] == ended['day'] for e in carving)}")
    row = page.locator(f"#list a.event[href$='{ended['id']}']").text_content()
    assert f"{ended['duration']:.1f} s, peak {round(ended['peak_score'] * 100)} %" in row
    page.wait_for_function("id => document.querySelector(`#list a[href$='${id}'] img`).naturalWidth === 172",
                           arg=ended["id"])  # its snapshot

    # One event: its clip plays in the page, its snapshot shows, and it can be downloaded and deleted.
    (with_clip,) = [e for e in everything["events"] if e.get("clip")]
    clip, snapshot = (events_dir / with_clip[key].split("/")[-1] for key in ("clip", "snapshot"))
    page.goto(f"{app.base}event?id={with_clip['id']}")
    page.wait_for_function("() => document.getElementById('clip').readyState >= 2")  # a frame decoded: it plays
    assert page.evaluate("() => document.getElementById('clip').videoWidth") == 172
    page.wait_for_function("() => document.getElementById('snapshot').naturalWidth === 172")
    assert page.get_attribute("#download-clip", "href").endswith(with_clip["clip"])
    assert f"{round(with_clip['peak_score'] * 100)} %" in page.text_content("#facts")

    # Delete refused from anywhere but the page (test_web.py: and while the event goes on).
    token, target = page_token(app.base), f"{app.base}events/{with_clip['id']}"
    for headers in ({}, {"Origin": "http://evil.example", TOKEN_HEADER: token},
                    {"Origin": app.base.rstrip("/"), TOKEN_HEADER: "guessed"}):
        assert post(target, headers, "DELETE")[0] == 403, headers
    attack = f"""<!doctype html><html><body><iframe name="hidden" id="hidden"></iframe>
<form id="form" method="POST" action="{target}" target="hidden"></form><p id="out">started</p><script>
(async () => {{
  const out = document.getElementById("out");
  for (const [method, mode] of [["DELETE", "cors"], ["DELETE", "no-cors"], ["POST", "no-cors"]]) {{
    try {{ await fetch("{target}", {{method, mode}}); out.textContent += ` ${{method}}-${{mode}}:sent`; }}
    catch (e) {{ out.textContent += ` ${{method}}-${{mode}}:refused`; }}
  }}
  document.getElementById("hidden").onload = () => out.textContent += " form:answered";
  document.getElementById("form").submit();
}})();
</script></body></html>""".encode()
    with another_site(attack) as evil_url:  # a page the user happens to open, in the same browser
        evil = page.context.new_page()
        evil.goto(evil_url)
        evil.wait_for_function("() => document.getElementById('out').textContent.includes('form:answered')")
        tried = evil.text_content("#out")
        evil.close()
    # The browser itself stops a DELETE from another site (no CORS allows it); the POSTs reach the view, which
    # deletes nothing for them.
    assert "DELETE-cors:refused DELETE-no-cors:refused POST-no-cors:sent" in tried, tried
    assert clip.is_file() and snapshot.is_file()
    assert with_clip["id"] in [e["id"] for e in events_json(app.base, "?per_page=100")["events"]]

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    page.wait_for_function("() => document.getElementById('reply').textContent === 'deleted'")
    assert not clip.exists() and not snapshot.exists()
    assert journal_lines(events_dir)[-1]["type"] == "deleted"
    assert with_clip["id"] not in [e["id"] for e in events_json(app.base, "?per_page=100")["events"]]


def test_an_event_going_on_shows_the_live_picture(app, page):
    live = next(e for e in events_json(app.base)["events"] if e["state"] == "going on")
    page.goto(f"{app.base}event?id={live['id']}")
    page.wait_for_function("() => document.getElementById('snapshot').naturalWidth === 638")  # the live frame
    assert "frame.jpg" in page.get_attribute("#snapshot", "src")
    assert "going on" in page.text_content("#facts") and page.is_hidden("#delete")


@pytest.mark.parametrize("screen", [(390, 844), (320, 568)])
def test_every_page_fits_a_phone(app, browser, screen):
    """At 390x844 and at 320x568 (the smallest phones) no page scrolls sideways: a long word (the stream's
    address in an event's facts) wraps, and the video shrinks below its usual least width of 320 px."""
    live = next(e for e in events_json(app.base)["events"] if e["state"] == "going on")
    assert "http://" in live["source"]
    context = browser.new_context(viewport={"width": screen[0], "height": screen[1]})
    try:
        phone = context.new_page()
        phone.set_default_timeout(WAIT_MS)
        for address, ready in (("", "#events a.event"), ("events", "#list a.event"),
                               (f"event?id={live['id']}", "#facts dd")):
            phone.goto(app.base + address)
            phone.wait_for_selector(ready)
            widths = phone.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
            assert widths[0] <= widths[1], f"/{address} is wider than the phone: {widths}"
            # A screen reader's outline: headings that never skip a level, and no picture or player unnamed.
            levels = phone.evaluate("() => [...document.querySelectorAll('h1,h2,h3,h4')].map(h => +h.tagName[1])")
            assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), (address, levels)
            unnamed = phone.evaluate("() => [...document.querySelectorAll('img:not([alt]), video:not([aria-label])')]"
                                     ".map(e => e.id || e.className)")
            assert not unnamed, (address, unnamed)
        phone.goto(app.base)
        assert phone.get_attribute("#offline", "role") == "alert"  # read out when the camera goes away
    finally:
        context.close()


def test_without_events_the_events_page_says_how_to_make_them(camera, page):
    """The title bar's "all events" stays (it is where events are found): without --event its page says how to
    turn them on, without the empty lists to choose an action and a day from."""
    port = free_port()
    app = start_app(camera, port)
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        page.click("text=all events")
        page.wait_for_function("() => document.getElementById('summary').textContent.startsWith('Events are off')")
        assert "--event LABEL" in page.text_content("#summary")
        assert page.is_hidden("#filters") and page.locator("#list a.event").count() == 0
    finally:
        app.kill()


def test_the_buttons_show_their_answer(app, page):
    """Last of the tests on `app`: a reset ends the event going on."""
    page.goto(app.base)
    page.wait_for_function("() => document.querySelector('#results .label') !== null")
    page.click("button[data-press=reset]")
    page.wait_for_function("() => document.getElementById('reply').textContent.includes('reset')")
    assert page.text_content("#reply") == "the stream was reset: the results start afresh"
    assert page.get_attribute("#reply", "class") == "reply ok"
    # It goes after 8 s, as the teaching notice does: an old answer must not read as the latest one.
    page.wait_for_function("() => document.getElementById('reply').textContent === ''", timeout=20_000)

    # A page from before a restart carries an old token: the refusal shows on the page.
    page.evaluate("() => document.querySelector('meta[name=classify-token]').content = 'from-an-earlier-run'")
    page.click("button[data-press=reset]")
    page.wait_for_function("() => document.getElementById('reply').textContent.startsWith('refused')")
    assert page.get_attribute("#reply", "class") == "reply error"


def undo(page) -> str:
    """Presses the undo button; returns the answer the page shows."""
    page.evaluate("() => document.getElementById('reply').textContent = ''")
    page.click("#undo")
    page.wait_for_function("() => !['', '...'].includes(document.getElementById('reply').textContent)")
    return page.text_content("#reply")


def test_the_undo_button_says_what_it_undid_or_why_nothing(camera, page, tmp_path):
    """--teach on a camera: a session starts at once, then each undo's answer is what the app did."""
    port = free_port()
    app = start_app(camera, port, "--teach", "arms", "--teach-countdown", "6", "--teach-seconds", "1",
                    "--actions-dir", str(tmp_path))
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function("() => document.getElementById('notice').textContent.includes('get ready')")
        answers = [undo(page)]  # during the countdown
        app.wait_for(lambda: (tmp_path / "arms.npz").exists(), "the taught action")
        answers += [undo(page), undo(page)]  # its only session, then nothing left
    finally:
        app.kill()
    assert answers == ["nothing undone: teaching 'arms' is under way; undo it once it is saved",
                       "undid the last session of 'arms', which was its only one: it is gone",
                       "nothing undone: 'arms' has no taught session"], answers
    assert not (tmp_path / "arms.npz").exists()


def test_a_page_opened_while_the_camera_is_away_shows_the_teach_and_undo_buttons(page, tmp_path):
    """The buttons follow --teach, not the camera: they used to wait for the camera's return."""
    camera = StreamServer(ARM_WRESTLING)
    port = free_port()
    app = start_app(camera, port, "--teach", "arms", "--actions-dir", str(tmp_path))
    base = f"http://127.0.0.1:{port}/"
    try:
        camera.mode = DOWN
        app.wait_for(lambda: not results(base)["status"]["source"]["online"], "the camera offline")
        page.goto(base)
        page.wait_for_function("() => !document.getElementById('offline').hidden")
        assert page.is_visible("#teach") and page.is_visible("#undo")
        assert page.text_content("#teach") == "teach 'arms'"
    finally:
        app.kill()
        camera.close()


def test_offline_is_unmistakable_and_the_page_reconnects(page, tmp_path):
    camera = StreamServer(ARM_WRESTLING)
    port = free_port()
    app = start_app(camera, port)
    base = f"http://127.0.0.1:{port}/"
    try:
        page.goto(base)
        shows_top_1(page, WATCHED)
        assert page.is_hidden("#offline")

        camera.mode = DOWN  # the camera goes away: the app says so
        page.wait_for_function("() => !document.getElementById('offline').hidden")
        assert page.text_content("#offline").startswith("camera offline since")
        assert page.text_content("#results") == "no results while offline"
        camera.mode = UP
        page.wait_for_function("() => document.getElementById('offline').hidden")

        assert app.stop() == 0  # the app stops: the page must not look live
        page.wait_for_function("() => !document.getElementById('offline').hidden")
        text = page.text_content("#offline")
        assert re.fullmatch(r"offline since \d\d:\d\d:\d\d: classify.py is not answering; reconnecting...", text)
        assert "offline" in page.get_attribute("#view", "class")
        assert page.evaluate("() => getComputedStyle(document.getElementById('video')).filter") == (
            "grayscale(1) brightness(0.4)")
        assert page.text_content("#results") == "no results while offline"
        assert page.text_content("#notice") == page.text_content("#status") == ""

        app = start_app(camera, port)  # back: a new run, so the page reloads with its new token
        page.wait_for_function("() => document.getElementById('offline').hidden", timeout=WAIT_MS)
        shows_top_1(page, WATCHED)
        assert page.evaluate("() => document.querySelector('meta[name=classify-token]').content") == page_token(base)
    finally:
        app.kill()
        camera.close()


def test_an_event_page_says_when_the_app_is_away_and_stops_saying_it_when_it_is_back(camera, page, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    app = start_app(camera, port, "--event", WATCHED, "--events-dir", str(tmp_path))
    try:
        app.wait_for(lambda: any(e["state"] == "going on" for e in events_json(base)["events"]), "an event")
        (live,) = events_json(base)["events"]
        page.goto(f"{base}event?id={live['id']}")
        page.wait_for_function("() => document.getElementById('facts').textContent.includes('going on')")
        assert app.stop() == 0  # the event ends with the app ("stopped")
        page.wait_for_function("() => document.getElementById('reply').textContent.includes('not answering')")
        app = start_app(camera, port, "--event", WATCHED, "--events-dir", str(tmp_path))
        page.wait_for_function("() => document.getElementById('facts').textContent.includes('stopped')")
        assert page.text_content("#reply") == "", "the app answers again: the error must go"
    finally:
        app.kill()


def test_login_with_a_form_and_a_session_cookie(browser, camera):
    port = free_port()
    app = start_app(camera, port, env={"WEB_PASSWORD": "s3cret pass"})
    base = f"http://127.0.0.1:{port}/"
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        asked = base + "events?label=arm+wrestling&page=1"
        page.goto(asked)
        assert page.url == base + "login?" + urlencode({"next": asked[len(base) - 1:]})
        assert page.title() == f"{NAME} · log in"
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"failed=1"))
        assert page.text_content("#message") == "wrong password, try again"
        page.fill("input[name=password]", "s3cret pass")
        page.click("button[type=submit]")
        page.wait_for_url(asked)  # where it was going, with its whole query
        (cookie,) = context.cookies()
        assert cookie["name"] == f"classify_session_{port}"
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert 29 * 86400 < cookie["expires"] - time.time() <= 30 * 86400
        assert "s3cret" not in cookie["value"]

        # A bookmark with the password in the address: the page's requests work (Chrome refuses fetch() of such
        # an address, so the page never makes one), and the buttons answer.
        page.goto(f"http://pi:s3cret%20pass@127.0.0.1:{port}/")
        shows_top_1(page, WATCHED)
        page.click("button[data-press=reset]")
        page.wait_for_function("() => document.getElementById('reply').textContent.includes('reset')")
        assert page.get_attribute("#reply", "class") == "reply ok"

        page.click("#logout")
        page.wait_for_url(re.compile(r"/login"))
        assert page.request.get(base + "results.json").status == 401
        page.goto(base)
        assert page.url.startswith(base + "login")
    finally:
        context.close()
        app.kill()
    assert "s3cret" not in app.log


def test_a_double_click_on_log_in_with_a_wrong_password_leads_back_to_the_form(browser, camera):
    """The second wrong password comes while the first is answered (a second a try): the browser gets the form
    again with what to do, not a bare "429" text page with no way on."""
    port = free_port()
    app = start_app(camera, port, env={"WEB_PASSWORD": "s3cret pass"})
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"http://127.0.0.1:{port}/login")
        page.fill("input[name=password]", "wrong")
        page.keyboard.press("Enter")
        page.wait_for_timeout(200)
        page.keyboard.press("Enter")
        page.wait_for_selector("#message:not(:empty)")
        assert page.text_content("#message") == "too many login attempts: wait a second, then try again"
        page.wait_for_timeout(1500)
        page.fill("input[name=password]", "s3cret pass")
        page.click("button[type=submit]")
        page.wait_for_url(f"http://127.0.0.1:{port}/")
        shows_top_1(page, WATCHED)
    finally:
        context.close()
        app.kill()


def test_scripts_still_log_in_with_http_basic(camera):
    port = free_port()
    app = start_app(camera, port, env={"WEB_PASSWORD": "pw"})
    base = f"http://127.0.0.1:{port}/"
    try:
        with pytest.raises(urllib.error.HTTPError, match="401") as refused:
            results(base)
        assert refused.value.headers["WWW-Authenticate"].startswith("Basic ")
        opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(
            password_mgr := urllib.request.HTTPPasswordMgrWithDefaultRealm()))
        password_mgr.add_password(None, base, "anyone", "pw")
        with opener.open(base + "results.json", timeout=10) as response:
            assert "status" in json.loads(response.read())
    finally:
        app.stop(signal.SIGTERM)


# The web view inside another site's page: Home Assistant's webpage card is an iframe.

# The sandbox of Home Assistant's Webpage card (home-assistant/frontend, hui-iframe-card.ts): scripts, forms and
# dialogs run, and the framed page keeps its own origin.
CARD = b"""<!doctype html><html><body>
<iframe id="card" width="960" height="640"
  sandbox="allow-forms allow-modals allow-popups allow-pointer-lock allow-same-origin allow-scripts"></iframe>
<p id="out"></p>
<script>
const view = new URLSearchParams(location.search).get("view");
const card = document.getElementById("card");
card.onload = () => {
  let access = "no-access";
  try { if (card.contentDocument) access = "read"; } catch (e) {}
  document.getElementById("out").textContent = "loaded " + access;
};
card.src = view;
// What this page can do to the framed view on its own: send the buttons' requests (no token: it cannot read
// the frame's page), and try a DELETE.
window.attack = async () => {
  const said = [];
  for (const path of ["reset", "teach", "teach/undo"]) {
    try {
      await fetch(view + path, {method: "POST", mode: "no-cors", credentials: "include"});
      said.push(path + ":sent");
    }
    catch (e) { said.push(path + ":refused"); }
  }
  try { await fetch(view + "events/x", {method: "DELETE", credentials: "include"}); said.push("delete:answered"); }
  catch (e) { said.push("delete:refused"); }
  return said.join(" ");
};
</script></body></html>"""


@contextlib.contextmanager
def home_assistant_card() -> Iterator[str]:
    """A dashboard page that frames ?view=URL, served on 127.0.0.1 but opened as http://localhost:PORT: another
    site than the web view's 127.0.0.1 for the browser (a site is the scheme and the registrable name, whatever
    the port), as Home Assistant at homeassistant.local is for a web view at pi.local. Yields its origin."""
    with another_site(CARD) as url:
        yield url.replace("http://127.0.0.1:", "http://localhost:").rstrip("/")


def open_card(page, origin: str, view: str):
    """Opens the card page with the web view in its frame; returns the frame once loaded (or refused)."""
    page.goto(f"{origin}/?{urlencode({'view': view})}")
    page.wait_for_function("() => document.getElementById('out').textContent.startsWith('loaded')")
    return page.frames[1]


def test_another_site_cannot_frame_the_web_view_by_default(page, caplog):
    web = WebSink("127.0.0.1", free_port())
    try:
        with caplog.at_level(logging.DEBUG, logger="utils.sinks.web"), home_assistant_card() as origin:
            frame = open_card(page, origin, web.url)
            assert '"GET / HTTP/1.1" 200' in caplog.text, "the page was served: the browser refused to show it"
        assert frame.query_selector("#video") is None and "classify-token" not in frame.content()
        headers = urllib.request.urlopen(web.url, timeout=10).headers
        assert headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    finally:
        web.close()


def test_an_allowed_origin_frames_the_live_view_and_still_cannot_press_its_buttons(page, caplog):
    """--web-embed-from the card's origin (no password, plain HTTP): the frame shows the live picture and the
    results, and its own buttons work; the embedding page cannot read it, and its requests change nothing."""
    with home_assistant_card() as origin:
        web = WebSink("127.0.0.1", free_port(), embed_from=(origin,))
        try:
            headers = urllib.request.urlopen(web.url, timeout=10).headers
            assert "X-Frame-Options" not in headers
            assert f"frame-ancestors 'self' {origin}" in headers["Content-Security-Policy"]
            with pipeline_running(web) as commands:
                frame = open_card(page, origin, web.url)
                assert page.text_content("#out") == "loaded no-access", "the dashboard cannot read the view"
                frame.wait_for_function("() => document.getElementById('video').naturalWidth > 0")
                frame.wait_for_function("() => document.getElementById('results').textContent.includes('carving ice')")
                with caplog.at_level(logging.DEBUG, logger="utils.sinks.web"):
                    tried = page.evaluate("attack()")  # resolves once the view has answered each request
                assert tried == "reset:sent teach:sent teach/undo:sent delete:refused", tried
                assert caplog.text.count('HTTP/1.1" 403') == 3, caplog.text
                assert commands == [], "a request of the embedding page changed something"
                frame.click("button[data-press=reset]")  # the user's own click, inside the frame
                frame.wait_for_function("() => document.getElementById('reply').textContent.includes('reset')")
            assert commands == [Command.RESET]
        finally:
            web.close()


def test_with_a_password_over_plain_http_the_frame_gets_only_the_login_page(browser):
    """The session cookie is SameSite=Strict over HTTP: a login in the browser's own tab does not reach a frame
    on another site, so the card shows the login form (docs/web.md: a password needs HTTPS to be framed)."""
    context = browser.new_context()
    with home_assistant_card() as origin:
        web = WebSink("127.0.0.1", free_port(), password="s3cret pass", embed_from=(origin,))
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(web.url + "login")
            page.fill("input[name=password]", "s3cret pass")
            page.click("button[type=submit]")
            page.wait_for_url(web.url)
            frame = open_card(page, origin, web.url)
            frame.wait_for_selector("input[name=password]")
            assert frame.query_selector("#video") is None
        finally:
            context.close()
            web.close()


def test_over_https_with_framing_allowed_the_session_cookie_is_samesite_none_and_secure():
    """Behind a TLS proxy the page's Origin is https://: the login's cookie is then sent in the frame too."""
    origin = "https://homeassistant.local:8123"
    for embed_from, expected in (((origin,), "SameSite=None; Secure"), ((), "SameSite=Strict")):
        web = WebSink("127.0.0.1", free_port(), password="pw", embed_from=embed_from)
        try:
            for scheme, proxy, cookie in (("https", {}, expected), ("http", {}, "SameSite=Strict"),
                                          ("http", {"X-Forwarded-Proto": "https"}, expected)):
                status, set_cookie = login(web.port, scheme, proxy)
                assert status == 303 and set_cookie.endswith(f"HttpOnly; {cookie}"), (embed_from, scheme, set_cookie)
        finally:
            web.close()


def login(port: int, scheme: str, extra: dict[str, str]) -> tuple[int, str]:
    """The login form's POST as a browser on http(s)://127.0.0.1:port sends it (through a TLS proxy with
    `extra`: X-Forwarded-Proto); returns (status, Set-Cookie)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/login", b"password=pw&next=/", {
            "Host": f"127.0.0.1:{port}", "Origin": f"{scheme}://127.0.0.1:{port}",
            "Content-Type": "application/x-www-form-urlencoded", **extra})
        response = connection.getresponse()
        return response.status, response.headers["Set-Cookie"] or ""
    finally:
        connection.close()
