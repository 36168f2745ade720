// The events page: every event of the journal, a page at a time, by action and by day; the choice is in the
// address, so it can be bookmarked and the back button works.
import {getJSON, refreshLive, showEvents, url, wireLogout} from "./common.js";

const $ = id => document.getElementById(id);
const form = $("filters"), chosen = new URLSearchParams(location.search);

function choices(select, values, current) {
  select.replaceChildren(select.options[0], ...values.map(value => new Option(value, value)));
  select.value = values.includes(current) ? current : "";
}

function address(changes) {
  const query = new URLSearchParams(chosen);
  for (const [key, value] of Object.entries(changes)) value ? query.set(key, value) : query.delete(key);
  return url(`events?${query}`);
}

function link(anchor, page, shown) {
  anchor.hidden = !shown;
  anchor.href = address({page: String(page)});
}

async function load() {
  const query = new URLSearchParams({label: chosen.get("label") || "", day: chosen.get("day") || "",
                                     page: chosen.get("page") || "1"});
  let data;
  try {
    data = await getJSON(`events.json?${query}`);
  } catch (e) {
    $("summary").textContent = "classify.py is not answering: is it still running? (retrying)";
    setTimeout(load, 5000);
    return;
  }
  if (!data.enabled) {  // nothing to choose from: no lists, only how events are made
    form.hidden = true;
    $("summary").textContent = "Events are off: start classify.py with --event LABEL, e.g. --event " +
      "'arm wrestling' (and --record for clips).";
    return;
  }
  choices(form.label, data.labels, chosen.get("label") || "");
  choices(form.day, data.days, chosen.get("day") || "");
  $("summary").textContent = `${data.total} event${data.total === 1 ? "" : "s"}`;
  showEvents($("list"), data.events);
  $("page").textContent = `page ${data.page} of ${data.pages}`;
  link($("newer"), data.page - 1, data.page > 1);
  link($("older"), data.page + 1, data.page < data.pages);
  setTimeout(load, data.page === 1 ? 5000 : 30000);  // new events arrive on the first page
}

form.onchange = () => location.assign(address({label: form.label.value, day: form.day.value, page: ""}));
wireLogout($("logout"));
setInterval(() => refreshLive($("list")), 2000);
load();
