// A browser that is still logged in goes on at once: a link from another site arrives without the
// SameSite=Strict cookie, which this page's own request does send.
import {getJSON, url} from "./common.js";

const next = document.querySelector('input[name="next"]').value;
getJSON("session.json").then(session => {
  if (session.logged_in) location.replace(url(next));
}, () => { /* not answering: the form stays */ });
