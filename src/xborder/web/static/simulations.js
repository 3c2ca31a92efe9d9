// Start a simulation run through the API (POST /simulations, the session cookie is the key)
// and follow it until its report is ready. No library; text is set with textContent only.
"use strict";
(function () {
  const form = document.getElementById("sim-form");
  const out = document.getElementById("sim-status");
  if (!form || !out) { return; }
  function say(text) { out.textContent = text; }
  function follow(id) {
    fetch("/simulations/" + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (run) {
        if (run.status === "done" && run.report) {
          say("Run " + id + " is done. ");
          const link = document.createElement("a");
          link.href = run.report;
          link.textContent = "Open its report";
          out.appendChild(link);
        } else if (run.status === "failed") {
          say("Run " + id + " failed: " + (run.error || "no detail"));
        } else {
          say("Run " + id + ": " + run.status + "…");
          setTimeout(function () { follow(id); }, 2000);
        }
      })
      .catch(function (status) { say("Could not read the run (" + status + ")."); });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      scenarios: data.getAll("scenarios"),
      days: Number(data.get("days")),
      seed: Number(data.get("seed")),
    };
    say("Starting…");
    fetch("/simulations", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
    })
      .then(function (r) { return r.ok ? r.json() : r.json().then(function (p) { return Promise.reject(p.detail || p.title || r.status); }, function () { return Promise.reject(r.status); }); })
      .then(function (run) { follow(run.id); })
      .catch(function (why) { say("The run was not started: " + why); });
  });
}());
