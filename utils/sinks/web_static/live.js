// The live page: the MJPEG video, the results and status twice a second, the recent events, the buttons, and
// an unmistakable offline state when classify.py stops answering (or the camera is away).
import {clock, getJSON, refreshLive, say, send, showEvents, url, wireLogout} from "./common.js";

const $ = id => document.getElementById(id);
const video = $("video"), view = $("view"), overlay = $("offline"), results = $("results"), status = $("status");
const notice = $("notice"), teach = $("teach"), undo = $("undo"), reply = $("reply");
let run = null, lastAnswer = null, offline = false;

function message(text) {
  const row = document.createElement("div");
  row.className = "row";
  row.textContent = text;
  return row;
}

function bars(predictions) {
  return predictions.map(p => {
    const row = document.createElement("div"), label = document.createElement("div");
    const bar = document.createElement("div"), fill = document.createElement("div");
    row.className = "row"; label.className = "label"; bar.className = "bar";
    label.textContent = `${p.label}${p.taught ? " (taught)" : ""}  ${Math.round(p.score * 100)}%`;
    fill.style.width = `${Math.max(0, Math.min(1, p.score)) * 100}%`;
    bar.append(fill); row.append(label, bar);
    return row;
  });
}

// Greyed video, an overlay that says since when, no results: a stopped app must not look live.
function showOffline(text) {
  view.classList.add("offline");
  overlay.hidden = false;
  overlay.textContent = text;
  results.replaceChildren(message("no results while offline"));
  notice.textContent = status.textContent = "";
}

function showOnline() {
  view.classList.remove("offline");
  overlay.hidden = true;
}

function show(data) {
  const s = data.status;
  $("clock").textContent = clock(new Date(data.time * 1000));
  // The buttons follow --teach, camera or not: undo works while the camera is away.
  teach.hidden = undo.hidden = !s.teach;
  teach.textContent = `teach ${s.teach_what}`;  // 'NAME', or the background of 'NAME'
  if (!s.source.online) {  // the app runs, but the camera is away
    showOffline(s.source.message);
    return;
  }
  showOnline();
  notice.textContent = s.notice;  // the teaching countdown, "none of the taught actions"
  if (!("frame" in data)) return;  // no result yet: keep "waiting..."
  const shown = data.results.length ? data.results : s.notice ? [] : [{label: "(no label above the threshold)",
                                                                     score: 0}];
  results.replaceChildren(...bars(shown));
  status.textContent = `capture ${s.capture_fps.toFixed(1)} fps, classify ${s.classify_fps.toFixed(1)} fps, ` +
    `${s.inference_ms.toFixed(1)} ms; ${s.model}, ${s.threads} threads` +
    (s.cpu_temp_c == null ? "" : `, ${s.cpu_temp_c.toFixed(0)} °C`) +
    (s.cpu_percent == null ? "" : `, CPU ${s.cpu_percent.toFixed(0)}%`);
}

async function poll() {
  let data = null;
  try {
    data = await getJSON("results.json");
  } catch (e) {
    if (!offline) {
      offline = true;
      showOffline(`offline since ${clock(lastAnswer || new Date())}: classify.py is not answering; reconnecting...`);
    }
  }
  if (data) {
    if (run !== null && data.run !== run) {  // restarted: a new token for the buttons, so a fresh page
      location.reload();
      return;
    }
    run = data.run;
    lastAnswer = new Date();
    if (offline) {  // back: the video stream ended with the app, so ask for it again
      offline = false;
      video.src = url(`stream.mjpg?t=${Date.now()}`);
    }
    show(data);
  }
  setTimeout(poll, 500);
}

async function pollEvents() {
  try {
    const data = await getJSON("events.json?per_page=5");
    const box = $("events");
    if (data.enabled) {
      const title = box.querySelector("h2") || box.appendChild(document.createElement("h2"));
      title.textContent = data.total ? "Recent events" : "No events yet";
      showEvents(box, data.events, 1);
    }
  } catch (e) { /* offline: poll() says so */ }
  refreshLive($("events"));
  setTimeout(pollEvents, 3000);
}

// A button's answer goes after a few seconds, as the teaching notice does; a later press's answer restarts that.
const REPLY_SECONDS = 8;
let replyTimer = null;
for (const button of document.querySelectorAll("button[data-press]")) {
  button.onclick = async () => {
    clearTimeout(replyTimer);
    reply.textContent = "...";
    const answer = await send(button.dataset.press);
    clearTimeout(replyTimer);  // another press answered while this one was asked
    say(reply, answer);
    replyTimer = setTimeout(() => { reply.textContent = ""; reply.className = "reply"; }, REPLY_SECONDS * 1000);
  };
}
wireLogout($("logout"));
// The endless MJPEG request starts after the page has loaded, so the page counts as loaded.
window.addEventListener("load", () => { video.src = url("stream.mjpg"); });
poll();
pollEvents();
