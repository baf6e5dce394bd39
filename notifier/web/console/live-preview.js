// The live preview of an update on a case's page: as the editor types, the server renders the
// alert as each channel shows it, and who will get it, into the page (POST …/updates/preview,
// the form as it stands, with its form token). Without this script the Preview button does the
// same on a whole page. Publish is shown once the preview matches the form, as the server checks.
"use strict";

(function () {
  const form = document.querySelector("form[data-live-preview]");
  const region = document.getElementById("live-preview");
  const status = document.getElementById("live-status");
  if (!form || !region || !status) {
    return;
  }
  const publish = form.querySelector("button[value=publish]");
  const previewed = form.querySelector("input[name=previewed]");
  const WAIT_MS = 500;
  let timer = null;
  let running = null;
  let asked = 0;

  function say(text) {
    if (status.textContent !== text) {
      status.textContent = text;
    }
  }

  function stale() {
    // The form no longer says what the preview shows: no publishing until it is previewed.
    previewed.value = "";
    publish.hidden = true;
  }

  async function refresh() {
    const mine = ++asked;
    if (running) {
      running.abort();
    }
    running = new AbortController();
    const body = new FormData(form);
    body.set("action", "preview");
    say("Updating the preview…");
    let answer;
    try {
      answer = await fetch(form.dataset.livePreview, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        redirect: "manual",
        signal: running.signal,
      });
    } catch (error) {
      if (error.name !== "AbortError") {
        say("The preview could not be updated (no answer from the server): use Preview.");
      }
      return;
    }
    if (mine !== asked) {
      return; // a later keystroke asked again
    }
    if (answer.type === "opaqueredirect" || answer.status === 401) {
      say("Your session has ended: sign in again in another tab, then use Preview. What you typed stays here.");
      return;
    }
    if (answer.status !== 200 && answer.status !== 400) {
      say("The preview could not be updated (the server answered " + answer.status + "): use Preview.");
      return;
    }
    const html = await answer.text();
    if (mine !== asked) {
      return;
    }
    region.innerHTML = html;
    const mark = region.querySelector("[data-previewed]");
    const fingerprint = mark ? mark.dataset.previewed : "";
    previewed.value = fingerprint;
    publish.hidden = !fingerprint;
    if (fingerprint && mark.dataset.publishLabel) {
      publish.textContent = mark.dataset.publishLabel;
    }
    say(fingerprint ? "The preview shows the update as it stands." : "The preview waits for the fields it names.");
  }

  function typed() {
    stale();
    clearTimeout(timer);
    timer = setTimeout(refresh, WAIT_MS);
  }

  form.addEventListener("input", typed);
  form.addEventListener("change", typed);
})();
