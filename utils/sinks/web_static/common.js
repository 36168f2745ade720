// What every page of the web view shares: requests without a password in the URL, the buttons' answers,
// times and the rows of the event lists.

// Every request goes to this page's own address without the user:password@ a bookmark may carry: Chrome
// refuses fetch() of a URL with credentials (the session cookie logs the page in instead).
export function url(path) {
  const address = new URL(path, location.href);
  address.username = address.password = "";
  return address.href;
}

// fetch() with a time limit (an app that hangs counts as gone); a lost login leads to the login form.
export async function request(path, options = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeout || 4000);
  try {
    const response = await fetch(url(path), {cache: "no-store", credentials: "same-origin", ...options,
                                             signal: controller.signal});
    if (response.status === 401) {
      location.assign(url("login?next=" + encodeURIComponent(location.pathname + location.search)));
    }
    return response;
  } finally {
    clearTimeout(timer);
  }
}

export async function getJSON(path) {
  const response = await request(path);
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return response.json();
}

// A button's request with the page's token (another site's page can send one, but cannot read the token);
// returns {ok, message} for the page to show, whatever happened.
export async function send(path, method = "POST") {
  const token = document.querySelector('meta[name="classify-token"]').content;
  const header = document.querySelector('meta[name="classify-token-header"]').content;
  let response;
  try {
    response = await request(path, {method, headers: {[header]: token}, timeout: 10000});
  } catch (e) {
    return {ok: false, message: "classify.py is not answering: is it still running?"};
  }
  let message = `${response.status} ${response.statusText}`;
  try { message = (await response.json()).message || message; } catch (e) { /* not JSON: keep the status */ }
  return {ok: response.ok, message};
}

export function say(element, answer) {
  element.textContent = answer.message;
  element.className = answer.ok ? "reply ok" : "reply error";
}

const two = n => String(n).padStart(2, "0");
export const clock = date => `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
export const when = text => new Date(text).toLocaleString();
export const percent = score => score == null ? "" : `${Math.round(score * 100)} %`;

export function duration(event) {
  if (event.state === "going on") return "going on";
  if (event.state === "unfinished") return "unfinished (the app stopped)";
  return `${(event.duration || 0).toFixed(1)} s`;
}

// An event still going on shows the live picture, refreshed by refreshLive(); an ended one its snapshot.
function showThumbnail(image, event) {
  const live = event.state === "going on";
  image.classList.toggle("live", live);
  if (live) {
    if (!image.getAttribute("src")?.includes("frame.jpg")) image.src = url(`frame.jpg?t=${Date.now()}`);
  } else if (event.snapshot) {
    if (image.src !== url(event.snapshot)) image.src = url(event.snapshot);
  } else {
    image.removeAttribute("src");
  }
}

export function refreshLive(root = document) {
  for (const image of root.querySelectorAll("img.live")) image.src = url(`frame.jpg?t=${Date.now()}`);
}

function eventRow(event) {
  const link = document.createElement("a"), image = document.createElement("img");
  link.className = "event";
  link.dataset.id = event.id;
  link.href = url(`event?id=${encodeURIComponent(event.id)}`);
  image.alt = "";
  image.className = "thumb";
  link.append(image, document.createElement("span"));
  return link;
}

// Shows `events` in `box`, after its first `keep` children (a title). A row already shown stays the same
// element and only its text and picture change: rebuilding the list at every refresh took the keyboard focus
// off a row and blanked the pictures while they loaded again.
export function showEvents(box, events, keep = 0) {
  const shown = new Map([...box.querySelectorAll(":scope > a.event")].map(row => [row.dataset.id, row]));
  let next = box.children[keep] || null;
  for (const event of events) {
    const row = shown.get(event.id) || eventRow(event);
    shown.delete(event.id);
    const text = `${event.label}, ${when(event.start_utc)}, ${duration(event)}, peak ${percent(event.peak_score)}`;
    if (row.lastChild.textContent !== text) row.lastChild.textContent = text;
    showThumbnail(row.firstChild, event);
    if (row === next) next = row.nextElementSibling;
    else box.insertBefore(row, next);
  }
  while (next) {  // the rows of events no longer listed (deleted, or on another page)
    const after = next.nextElementSibling;
    next.remove();
    next = after;
  }
}

// The log-out button shows only when a password guards the web view.
export async function wireLogout(button) {
  try {
    if (!(await getJSON("session.json")).password) return;
  } catch (e) {
    return;
  }
  button.hidden = false;
  button.onclick = async () => {
    const answer = await send("logout");
    if (answer.ok) location.assign(url("login"));
  };
}
