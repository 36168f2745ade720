// One event: its clip in the browser's player, its snapshot, download and delete. An event still going on
// shows the live picture until it ends.
import {duration, percent, request, say, send, url, when, wireLogout} from "./common.js";

const $ = id => document.getElementById(id);
const id = new URLSearchParams(location.search).get("id") || "";
let shownClip = null, away = false;  // away: the page says the app is not answering

function facts(event) {
  const rows = [["Action", event.label], ["Started", when(event.start_utc)],
                ["Ended", event.end_utc ? when(event.end_utc) : ""], ["Duration", duration(event)],
                ["Peak score", percent(event.peak_score)], ["Why it ended", event.reason || ""],
                ["Source", event.source || ""]];
  $("facts").replaceChildren(...rows.filter(([, value]) => value).flatMap(([name, value]) => {
    const term = document.createElement("dt"), text = document.createElement("dd");
    term.textContent = name;
    text.textContent = value;
    return [term, text];
  }));
}

function media(event) {
  const clip = $("clip"), snapshot = $("snapshot");
  if (event.clip && event.clip !== shownClip) {  // set once: a new src would restart the player
    shownClip = event.clip;
    clip.src = url(event.clip);
  }
  clip.hidden = !event.clip;
  const live = event.state === "going on";
  snapshot.hidden = !(live || event.snapshot);
  snapshot.classList.toggle("live", live);
  if (live) snapshot.src = url(`frame.jpg?t=${Date.now()}`);
  else if (event.snapshot) snapshot.src = url(event.snapshot);
  for (const [name, file] of [["download-clip", event.clip], ["download-snapshot", event.snapshot]]) {
    $(name).hidden = !file;
    if (file) $(name).href = url(file);
  }
  $("delete").hidden = live;
}

async function load() {
  let response;
  try {
    response = await request(`event.json?id=${encodeURIComponent(id)}`);
  } catch (e) {
    say($("reply"), {ok: false, message: "classify.py is not answering: is it still running? (retrying)"});
    away = true;
    setTimeout(load, 5000);
    return;
  }
  if (away) {  // it answers again: the error goes (an answer of the buttons stays)
    away = false;
    say($("reply"), {ok: true, message: ""});
  }
  if (response.status === 404) {
    $("title").textContent = "No such event (deleted?)";
    return;
  }
  const event = await response.json();
  $("title").textContent = `${event.label}, ${when(event.start_utc)}`;
  facts(event);
  media(event);
  if (event.state === "going on") setTimeout(load, 2000);  // until it ends: then its clip and snapshot
}

$("delete").onclick = async () => {
  if (!confirm("Delete this event's clip and snapshot?")) return;
  const answer = await send(`events/${encodeURIComponent(id)}`, "DELETE");
  say($("reply"), answer);
  if (answer.ok) {
    $("clip").removeAttribute("src");
    $("clip").hidden = $("snapshot").hidden = $("delete").hidden = true;
    $("download-clip").hidden = $("download-snapshot").hidden = true;
    $("title").textContent += " (deleted)";
  }
};
wireLogout($("logout"));
load();
