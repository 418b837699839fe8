// callfilter compliance console. Plain JavaScript, no build step, no
// third-party code. Everything that comes from the API is rendered as text
// (el() and textContent), never as HTML, so no record can inject markup.
"use strict";

(function () {
  const KEY = "callfilter.key"; // sessionStorage: forgotten when the tab closes

  // ---------- small DOM helpers ----------

  const $ = (id) => document.getElementById(id);

  // el builds an element; string children become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function show(node, on) { node.hidden = !on; }
  function fill(node, ...children) { node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined)); }

  function table(headers, rows) {
    if (rows.length === 0) return el("p", { class: "empty" }, "None recorded.");
    return el("table", {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function badge(decision) {
    return el("span", { class: "badge " + (decision === "allow" ? "allow" : "deny") },
      decision === "allow" ? "Allowed" : decision === "deny" ? "Denied" : decision);
  }

  // ---------- the API ----------

  class APIError extends Error {
    constructor(status, code, message, problems) {
      super(message);
      this.status = status;
      this.code = code;
      this.problems = problems || [];
    }
    // text is what an officer reads: the API's code and message.
    text() {
      const m = this.message.charAt(0).toUpperCase() + this.message.slice(1);
      return `${m} (error ${this.status}: ${this.code})`;
    }
  }

  function key() { return sessionStorage.getItem(KEY) || ""; }

  // api calls the API with the key and returns {data, etag}; an error answer
  // becomes an APIError with the API's code, message and problems.
  async function api(method, path, body, headers) {
    const h = Object.assign({ Authorization: "Bearer " + key() }, headers || {});
    const init = { method, headers: h, cache: "no-store" };
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, "network", "The service could not be reached. Check your connection and try again.");
    }
    return decode(res);
  }

  async function decode(res) {
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      const err = (data && data.error) || {};
      if (res.status === 401) signedOut("Your key was not accepted. Sign in again.");
      throw new APIError(res.status, err.code || "http_" + res.status, err.message || res.statusText || "the request failed", err.problems);
    }
    return { data, etag: res.headers.get("ETag") };
  }

  // errorBox renders an error: the message, its code, and every problem with its path.
  function errorBox(err) {
    if (!(err instanceof APIError)) err = new APIError(0, "script", String(err && err.message || err));
    return el("div", { class: "error", role: "alert" }, err.text(),
      err.problems.length ? problemList(err.problems) : null);
  }

  function problemList(problems) {
    return el("ul", { class: "problems" }, problems.map((p) =>
      el("li", {}, el("code", {}, p.path || "(document)"), p.line ? ` line ${p.line}: ` : ": ", p.message)));
  }

  function notice(msg) {
    const n = $("notice");
    n.textContent = msg || "";
    show(n, !!msg);
  }

  // ---------- reasons in plain language ----------

  const reasonText = {
    invalid_number: "The number cannot be read as a valid phone number.",
    missing_number: "No number was given.",
    on_list: "The number is on a do-not-contact list that applies",
    no_consent: "This channel needs the person's express consent, and none is on record.",
    consent_revoked: "The person gave consent and later withdrew it.",
    consent_expired: "The person's consent has expired.",
    consent_reassigned: "The consent was given before the number passed to someone else.",
    outside_hours: "It is outside the allowed contact hours in the person's local time.",
    day_not_allowed: "Contact is not allowed on this day of the week there.",
    holiday: "It is a holiday there, when contact is not allowed.",
    emergency_block: "A declared state of emergency blocks solicitation there.",
    frequency_cap: "The limit of attempts for this number, seller and purpose has been reached.",
    channel_not_allowed: "The rules do not allow this channel for this purpose.",
    wireless_prohibited: "Solicitation of mobile numbers is forbidden there.",
    list_stale: "A list that applies is out of date, so it cannot be relied on.",
    unavailable: "Something needed for the decision could not be read, so the answer is “no” to be safe.",
    relationship_exemption: "A recent purchase or inquiry with this seller exempted a list.",
    consent: "The person's express consent allows the contact.",
  };

  function plainReason(code, list) {
    let t = reasonText[code] || code;
    if (code === "on_list") t += list ? `: “${list}”.` : ".";
    return t;
  }

  function reasons(rs) {
    if (!rs || rs.length === 0) return el("span", { class: "empty" }, "no restriction applies");
    return rs.map((r) => el("p", { class: "reason" }, plainReason(r.code, r.list),
      r.detail ? el("span", { class: "detail" }, r.detail) : null));
  }

  // ---------- screens and navigation ----------

  const screens = ["signin", "rules", "lookup", "audit", "lists", "keys"];
  const KEYS_ALLOWED = "callfilter.keys"; // sessionStorage: "1" when the key may manage keys
  const loaders = {};

  function route() {
    notice("");
    let name = location.hash.replace(/^#/, "") || "rules";
    if (!key()) name = "signin";
    if (!screens.includes(name)) name = "rules";
    if (name === "keys" && sessionStorage.getItem(KEYS_ALLOWED) !== "1") name = "rules";
    show($("nav"), !!key());
    show($("nav-keys"), sessionStorage.getItem(KEYS_ALLOWED) === "1");
    for (const s of screens) show($("screen-" + s), s === name);
    for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.id === "nav-" + name);
    if (loaders[name]) loaders[name]();
  }

  function signedOut(why) {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(KEYS_ALLOWED);
    // Nothing the last key read stays on the page.
    rulesLoaded = "";
    $("rules-doc").value = "";
    for (const id of ["rules-version", "history-list", "preview-result", "lookup-result", "audit-result", "lists-table", "upload-result", "keys-table", "key-result"]) fill($(id));
    show($("audit-more"), false);
    location.hash = "#signin";
    route();
    if (why) {
      const e = $("signin-error");
      e.textContent = why;
      show(e, true);
    }
  }

  // ---------- sign-in ----------

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("signin-error");
    show(err, false);
    const k = $("signin-key").value.trim();
    if (!k) return;
    sessionStorage.setItem(KEY, k);
    try {
      // The rules need an officer's or an admin's key: the console's floor.
      await api("GET", "/v1/rules");
    } catch (e) {
      sessionStorage.removeItem(KEY);
      err.textContent = e.status === 403
        ? "This key may not use the console (it needs the officer or admin role). " + e.text()
        : e.status === 401 ? "That key was not accepted. Check it and try again. " + e.text() : e.text();
      show(err, true);
      return;
    }
    // Only an admin's key may manage keys: the screen shows for it alone.
    try {
      await api("GET", "/v1/keys");
      sessionStorage.setItem(KEYS_ALLOWED, "1");
    } catch (e) {
      sessionStorage.removeItem(KEYS_ALLOWED);
    }
    $("signin-key").value = "";
    location.hash = "#rules";
    route();
  });

  $("signout").addEventListener("click", () => signedOut(""));

  // ---------- rules ----------

  let rulesBase = "";   // the version the textarea's edit is based on (If-Match)
  let rulesLoaded = ""; // the document as loaded, to tell an unsaved edit

  const rulesDirty = () => rulesLoaded !== "" && $("rules-doc").value !== rulesLoaded;

  // Leaving the page with an unsaved edit asks first.
  window.addEventListener("beforeunload", (ev) => { if (rulesDirty()) ev.preventDefault(); });

  function rulesMessage(text, bad) {
    const m = $("rules-message");
    m.textContent = text;
    m.className = "message" + (bad ? " bad" : "");
    show(m, !!text);
  }

  function rulesProblems(problems) {
    const ul = $("rules-problems");
    fill(ul, (problems || []).map((p) =>
      el("li", {}, el("code", {}, p.path || "(document)"), ": ", p.message, " ",
        p.line ? el("button", { type: "button", class: "link goto", onclick: () => gotoLine(p.line) }, `show line ${p.line}`) : null)));
    show(ul, !!(problems && problems.length));
  }

  // gotoLine selects line n (from 1) of the editor and scrolls to it.
  function gotoLine(n) {
    const ta = $("rules-doc");
    const lines = ta.value.split("\n");
    let start = 0;
    for (let i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    ta.focus();
    ta.setSelectionRange(start, start + (lines[n - 1] || "").length);
    const lh = parseFloat(getComputedStyle(ta).lineHeight) || 16;
    ta.scrollTop = Math.max(0, (n - 4) * lh);
  }

  function rulesReset() {
    rulesMessage("");
    rulesProblems([]);
    show($("rules-conflict"), false);
    show($("preview-result"), false);
  }

  function rulesError(e) {
    rulesMessage(e.text ? e.text() : String(e), true);
    rulesProblems(e.problems);
  }

  async function loadRules() {
    rulesReset();
    try {
      const { data } = await api("GET", "/v1/rules");
      rulesBase = data.version;
      rulesLoaded = data.document;
      $("rules-doc").value = data.document;
      fill($("rules-version"), "In force: version ", el("b", { id: "rules-current" }, data.version),
        ` (revision ${data.revision}), saved by `, el("b", {}, data.author || "unknown"), " on ", when(data.at),
        data.summary ? ` — ${data.summary}` : "");
    } catch (e) {
      fill($("rules-version"), errorBox(e));
    }
    loadHistory();
  }
  // Coming back to the rules keeps an unsaved edit (Discard reloads).
  loaders.rules = () => (rulesDirty() ? loadHistory() : loadRules());

  $("rules-reload").addEventListener("click", loadRules);
  $("conflict-reload").addEventListener("click", loadRules);

  $("rules-validate").addEventListener("click", async () => {
    rulesReset();
    try {
      const { data } = await api("POST", "/v1/rules/validate", { document: $("rules-doc").value });
      if (data.valid) rulesMessage(`No problems found: version ${data.version} can be saved.`);
      else {
        rulesMessage(`${data.problems.length} problem${data.problems.length === 1 ? "" : "s"} to fix before this can be saved:`, true);
        rulesProblems(data.problems);
      }
    } catch (e) { rulesError(e); }
  });

  $("rules-preview").addEventListener("click", async () => {
    rulesReset();
    const box = $("preview-result");
    try {
      const { data: p } = await api("POST", "/v1/rules/preview", { document: $("rules-doc").value, window: $("preview-window").value });
      fill(box, renderPreview(p));
      show(box, true);
    } catch (e) { rulesError(e); }
  });

  function flipsTable(title, m, label) {
    const keys = Object.keys(m || {}).sort();
    return [el("h4", {}, title), table(["", "allowed → denied", "denied → allowed"],
      keys.map((k) => [label(k), String(m[k].allow_to_deny), String(m[k].deny_to_allow)]))];
  }

  function renderPreview(p) {
    const none = p.allow_to_deny === 0 && p.deny_to_allow === 0;
    return el("div", { id: "preview-summary" },
      el("h3", {}, "Impact of your draft (version ", p.draft_version, ") against version ", p.current_version),
      el("p", { class: "help" }, `${p.replayed} checks made between ${when(p.from)} and ${when(p.to)} were decided again under your draft` +
        (p.skipped ? ` (${p.skipped} could not be replayed).` : ".")),
      el("div", { class: "figures" },
        el("div", {}, el("div", { class: "big", id: "preview-a2d" }, String(p.allow_to_deny)), "would now be denied (were allowed)"),
        el("div", {}, el("div", { class: "big", id: "preview-d2a" }, String(p.deny_to_allow)), "would now be allowed (were denied)")),
      none ? el("p", {}, "No recent decision would change.") : [
        flipsTable("By purpose", p.by_purpose, (k) => k),
        flipsTable("By reason", p.by_reason, (k) => plainReason(k) + " (" + k + ")"),
        samples("Examples now denied (decision ids)", p.sample_allow_to_deny),
        samples("Examples now allowed (decision ids)", p.sample_deny_to_allow),
      ]);
  }

  function samples(title, ids) {
    if (!ids || ids.length === 0) return null;
    return [el("h4", {}, title), el("ul", { class: "samples" }, ids.map((id) => el("li", {}, el("code", {}, id))))];
  }

  $("rules-save").addEventListener("click", async () => {
    rulesReset();
    const draft = $("rules-doc").value;
    try {
      const { data } = await api("PUT", "/v1/rules", { document: draft }, { "If-Match": `"${rulesBase}"` });
      await loadRules();
      rulesMessage(`Saved: version ${data.version} is in force now.`);
    } catch (e) {
      if (e.status === 412) {
        let latest = "?";
        try { latest = (await api("GET", "/v1/rules")).data.version; } catch (_) { /* shown as ? */ }
        $("conflict-version").textContent = latest;
        $("conflict-draft").value = draft;
        show($("rules-conflict"), true);
        return;
      }
      rulesError(e);
    }
  });

  async function loadHistory() {
    const box = $("history-list");
    try {
      const { data } = await api("GET", "/v1/rules/history?limit=50");
      fill(box, data.revisions.map((r, i) => revision(r, i === 0)));
      if (data.revisions.length === 0) fill(box, el("p", { class: "empty" }, "No saved versions yet."));
    } catch (e) { fill(box, errorBox(e)); }
  }

  function revision(r, current) {
    const diffBox = el("div", {});
    const showBtn = el("button", { type: "button", class: "show-diff" }, "Show changes");
    showBtn.addEventListener("click", async () => {
      if (diffBox.childNodes.length) { fill(diffBox); showBtn.textContent = "Show changes"; return; }
      try {
        const { data } = await api("GET", "/v1/rules/versions/" + encodeURIComponent(r.version));
        fill(diffBox, data.diff ? diffView(data.diff) : el("p", { class: "empty" }, "The first version: nothing to compare with."));
        showBtn.textContent = "Hide changes";
      } catch (e) { fill(diffBox, errorBox(e)); }
    });
    let rollback = null;
    if (!current) {
      rollback = el("button", { type: "button", class: "danger rollback" }, "Roll back to this version");
      rollback.addEventListener("click", async () => {
        if (!confirm(`Put version ${r.version} back in force for every check, now?`)) return;
        try {
          await api("POST", "/v1/rules/rollback/" + encodeURIComponent(r.version), undefined, { "If-Match": `"${rulesBase}"` });
          await loadRules();
          rulesMessage(`Rolled back: version ${r.version} is in force again.`);
        } catch (e) {
          if (e.status === 412) e.message = "Someone else changed the rules meanwhile; the list below is now up to date. Nothing was rolled back. " + e.message;
          await loadRules();
          rulesError(e);
        }
      });
    }
    return el("div", { class: "revision", "data-version": r.version },
      el("div", {}, el("b", {}, "Version ", r.version), " ", current ? el("span", { class: "badge current" }, "in force") : null,
        el("span", { class: "meta" }, ` revision ${r.revision} · ${when(r.at)} · by ${r.author || "unknown"}`)),
      r.summary ? el("div", {}, r.summary) : null,
      el("div", { class: "actions" }, showBtn, rollback),
      diffBox);
  }

  // diffView shows the API's line diff ("  " kept, "- " removed, "+ "
  // added) with the new file's line numbers, folding long unchanged runs.
  function diffView(diff) {
    const lines = diff.replace(/\n$/, "").split("\n");
    const CONTEXT = 3;
    const changed = lines.map((l) => l.startsWith("+ ") || l.startsWith("- "));
    const near = (i) => { for (let j = Math.max(0, i - CONTEXT); j <= Math.min(lines.length - 1, i + CONTEXT); j++) if (changed[j]) return true; return false; };
    const out = [];
    let n = 0, folded = 0;
    const flush = () => { if (folded) out.push(el("span", { class: "hunk" }, `      … ${folded} unchanged line${folded === 1 ? "" : "s"} …`)); folded = 0; };
    lines.forEach((l, i) => {
      const del = l.startsWith("- ");
      if (!del) n++;
      if (!near(i)) { folded++; return; }
      flush();
      const num = del ? "    " : String(n).padStart(4);
      out.push(el("span", { class: l.startsWith("+ ") ? "add" : del ? "del" : "same" }, `${num} ${l}`));
    });
    flush();
    return el("pre", { class: "diff" }, out);
  }

  // ---------- number lookup ----------

  $("lookup-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const box = $("lookup-result");
    fill(box, el("p", { class: "help" }, "Looking up…"));
    const q = new URLSearchParams();
    if ($("lookup-seller").value.trim()) q.set("seller", $("lookup-seller").value.trim());
    if ($("lookup-region").value.trim()) q.set("region", $("lookup-region").value.trim().toUpperCase());
    try {
      const { data } = await api("GET", "/v1/numbers/" + encodeURIComponent($("lookup-number").value.trim()) + (q.toString() ? "?" + q : ""));
      fill(box, renderLookup(data));
    } catch (e) { fill(box, errorBox(e)); }
  });

  function renderLookup(l) {
    const n = l.number;
    return el("div", { id: "lookup-report" },
      el("h3", {}, "The number"),
      el("dl", { class: "facts" },
        el("dt", {}, "Reads as"), el("dd", { id: "lookup-e164" }, n.e164),
        el("dt", {}, "Country"), el("dd", {}, n.region || "unknown", n.area ? ` (${n.area})` : ""),
        el("dt", {}, "Line type"), el("dd", {}, lineTypes[n.type] || n.type || "unknown"),
        el("dt", {}, "Time zones"), el("dd", {}, (n.timezones || []).join(", ") || "unknown")),
      el("h3", {}, "May it be contacted now?"),
      el("p", { class: "meta" }, `As of ${when(l.at)}, under rules version ${l.rules_version}` + (l.seller ? `, for seller ${l.seller}.` : ", for no particular seller (consents and relationships are kept per seller).")),
      el("table", { id: "lookup-decisions" },
        el("thead", {}, el("tr", {}, ["Purpose", "Channel", "Decision", "Why", "Attempts"].map((h) => el("th", {}, h)))),
        el("tbody", {}, l.decisions.map((d) => el("tr", { "data-purpose": d.purpose, "data-channel": d.channel },
          el("td", {}, d.purpose), el("td", {}, d.channel === "sms" ? "text (SMS)" : d.channel === "call" ? "call" : d.channel),
          el("td", { class: "decision" }, badge(d.decision)),
          el("td", {}, reasons(d.reasons), d.next_allowed_at ? el("p", { class: "reason" }, "Next allowed: ", when(d.next_allowed_at)) : null),
          el("td", {}, attempts(d)))))),
      el("div", { class: "grid2" },
        el("div", {}, el("h3", {}, "Lists"), table(["List", "Status"], l.lists.map((x) =>
          [x.list, x.state === "present" ? el("span", { class: "badge deny" }, "on the list") : x.state === "absent" ? "not on it" : "could not be read"]))),
        el("div", {}, el("h3", {}, "Relationships"), table(["Seller", "Kind", "When"], l.relationships.map((x) => [x.seller, x.kind, when(x.at)])))),
      el("h3", {}, "Consents"),
      table(["Seller", "Purpose", "Channel", "Given", "Expires", "Source", "Evidence"], l.consents.map((x) =>
        [x.seller, x.purpose, x.channel, when(x.granted_at), x.expires_at ? when(x.expires_at) : "never", x.source, x.evidence])),
      el("h3", {}, "Revocations"),
      table(["Seller", "Purpose", "Channel", "When", "Source"], l.revocations.map((x) =>
        [x.seller || "every seller", x.purpose || "every purpose", x.channel || "every channel", when(x.at), x.source])));
  }

  // duration reads a Go duration ("24h0m0s") as words ("24 hours").
  function duration(s) {
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(s || "");
    if (!m) return s;
    const [h, min] = [Number(m[1] || 0), Number(m[2] || 0)];
    const parts = [];
    if (h && h % 24 === 0 && !min) return h === 24 ? "24 hours" : `${h / 24} days`;
    if (h) parts.push(`${h} hour${h === 1 ? "" : "s"}`);
    if (min) parts.push(`${min} minute${min === 1 ? "" : "s"}`);
    return parts.join(" ") || s;
  }

  const lineTypes = {
    mobile: "mobile", fixed_line: "landline", fixed_or_mobile: "landline or mobile (cannot tell)", toll_free: "toll-free",
    voip: "internet (VoIP)", premium_rate: "premium rate", unknown: "unknown",
  };

  function attempts(d) {
    const caps = (d.caps || []).map((c) => `at most ${c.max} per ${duration(c.window)}`).join(", ");
    const n = (d.attempts || []).length;
    if (!caps) return n ? `${n} recent` : "";
    return `${n} recent (${caps})`;
  }

  // ---------- audit ----------

  let auditCursor = "";

  function auditParams() {
    const q = new URLSearchParams();
    const set = (k, v) => { if (v) q.set(k, v); };
    set("number", $("audit-number").value.trim());
    set("seller", $("audit-seller").value.trim());
    set("kind", $("audit-kind").value);
    set("decision", $("audit-decision").value);
    for (const k of ["from", "to"]) {
      const v = $("audit-" + k).value;
      if (v) set(k, new Date(v).toISOString());
    }
    return q;
  }

  async function auditSearch(more) {
    const box = $("audit-result");
    const q = auditParams();
    q.set("limit", $("audit-limit").value);
    if (more && auditCursor) q.set("cursor", auditCursor);
    try {
      const { data } = await api("GET", "/v1/audit?" + q);
      let tbody = box.querySelector("tbody");
      if (!more || !tbody) {
        tbody = el("tbody", {});
        fill(box, data.entries.length === 0 ? el("p", { class: "empty" }, "No entries match.") :
          el("table", { id: "audit-table" }, el("thead", {}, el("tr", {},
            ["When", "What", "Number", "Seller", "Purpose · channel", "Why / detail", "Rules", "By", "Id"].map((h) => el("th", {}, h)))), tbody));
      }
      for (const e of data.entries) tbody.append(auditRow(e));
      auditCursor = data.next_cursor || "";
      show($("audit-more"), !!auditCursor);
    } catch (e) { fill(box, errorBox(e)); show($("audit-more"), false); }
  }

  function auditRow(e) {
    const what = e.kind === "decision" ? badge(e.decision) : el("span", {}, e.action || e.kind, e.target ? ` ${e.target}` : "");
    const why = e.kind === "decision"
      ? (e.reasons || []).map((r) => el("p", { class: "reason" }, plainReason(r.code, r.list)))
      : e.detail || "";
    return el("tr", {}, el("td", {}, when(e.time)), el("td", {}, what), el("td", {}, e.last4 ? "…" + e.last4 : ""),
      el("td", {}, e.seller || ""), el("td", {}, [e.purpose, e.channel].filter(Boolean).join(" · ")),
      el("td", {}, why), el("td", {}, e.rules_version || ""), el("td", {}, e.actor || ""), el("td", {}, el("code", {}, e.id)));
  }

  $("audit-form").addEventListener("submit", (ev) => { ev.preventDefault(); auditSearch(false); });
  $("audit-more").addEventListener("click", () => auditSearch(true));

  // Exports need the key header, which a plain link cannot send: fetch the
  // file and hand it to the browser as a download.
  async function auditExport(format) {
    const q = auditParams();
    q.set("format", format);
    try {
      const res = await fetch("/v1/audit/export?" + q, { headers: { Authorization: "Bearer " + key() }, cache: "no-store" });
      if (!res.ok) { await decode(res); return; }
      const blob = await res.blob();
      const a = el("a", { href: URL.createObjectURL(blob), download: "audit." + format });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    } catch (e) { fill($("audit-result"), errorBox(e)); }
  }
  $("audit-export-csv").addEventListener("click", () => auditExport("csv"));
  $("audit-export-jsonl").addEventListener("click", () => auditExport("jsonl"));

  loaders.audit = () => { if (!$("audit-result").childNodes.length) auditSearch(false); };

  // ---------- lists ----------

  async function loadLists() {
    const box = $("lists-table");
    try {
      const { data } = await api("GET", "/v1/lists");
      fill(box, table(["List", "Numbers", "Last changed", "Loaded", "Used by the rules"], data.lists.map((l) =>
        [l.name, l.count.toLocaleString(), l.updated_at ? when(l.updated_at) : "never", l.loaded ? "yes" : "no (checks deny as unavailable)", l.in_rules ? "yes" : "no"])));
      const sel = $("upload-list");
      const keep = sel.value;
      fill(sel, data.lists.map((l) => el("option", { value: l.name }, l.name)));
      if (keep) sel.value = keep;
    } catch (e) { fill(box, errorBox(e)); }
  }
  loaders.lists = loadLists;

  // parseNumbers reads one number per line, or the first CSV column, and
  // remembers each number's line so that rejections can name it.
  function parseNumbers(text) {
    const numbers = [], lines = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      let v = raw.split(",")[0].trim().replace(/^"|"$/g, "").trim();
      if (!v) return;
      if (i === 0 && !/\d/.test(v)) return; // a header row
      numbers.push(v);
      lines.push(i + 1);
    });
    return { numbers, lines };
  }

  const CHUNK = 5000; // numbers per request: well under the API's body limit

  // post sends one chunk with XMLHttpRequest, whose upload events give progress.
  function post(list, body, onProgress) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open("POST", "/v1/lists/" + encodeURIComponent(list) + "/numbers");
      x.setRequestHeader("Authorization", "Bearer " + key());
      x.setRequestHeader("Content-Type", "application/json");
      x.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
      x.onerror = () => reject(new APIError(0, "network", "The upload was interrupted. The numbers sent so far were added; try again for the rest."));
      x.onload = () => {
        decode(new Response(x.responseText, { status: x.status, statusText: x.statusText })).then((r) => resolve(r.data), reject);
      };
      x.send(body);
    });
  }

  $("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $("upload-file").files[0];
    const list = $("upload-list").value;
    const region = $("upload-region").value.trim().toUpperCase();
    const out = $("upload-result");
    fill(out);
    if (!file || !list) return;
    const { numbers, lines } = parseNumbers(await file.text());
    if (numbers.length === 0) { fill(out, el("div", { class: "error" }, "The file holds no numbers.")); return; }
    const bar = $("upload-bar"), text = $("upload-progress-text");
    show($("upload-progress"), true);
    $("upload-button").disabled = true;
    const chunks = [];
    for (let i = 0; i < numbers.length; i += CHUNK) chunks.push(JSON.stringify(region ? { numbers: numbers.slice(i, i + CHUNK), region } : { numbers: numbers.slice(i, i + CHUNK) }));
    const total = chunks.reduce((n, c) => n + c.length, 0);
    let sent = 0, accepted = 0, added = 0;
    const rejected = [];
    try {
      for (let c = 0; c < chunks.length; c++) {
        const r = await post(list, chunks[c], (loaded) => {
          bar.value = Math.round(100 * (sent + loaded) / total);
          text.textContent = `${bar.value}% sent`;
        });
        sent += chunks[c].length;
        accepted += r.accepted;
        added += r.added || 0;
        for (const x of r.rejected) rejected.push(Object.assign({ line: lines[c * CHUNK + x.index] }, x));
        bar.value = Math.round(100 * sent / total);
        text.textContent = `${bar.value}% — ${Math.min((c + 1) * CHUNK, numbers.length).toLocaleString()} of ${numbers.length.toLocaleString()} numbers done`;
      }
      fill(out, el("div", { class: "message", id: "upload-summary" },
        `${numbers.length.toLocaleString()} numbers read from ${file.name}: ${accepted.toLocaleString()} accepted, ` +
        `${added.toLocaleString()} newly added to “${list}” (the others were on it already), ${rejected.length.toLocaleString()} rejected.`),
        rejected.length ? [el("h4", {}, "Rejected rows" + (rejected.length > 200 ? " (the first 200)" : "")),
          table(["Line", "Problem"], rejected.slice(0, 200).map((x) => [String(x.line), `${x.message} (${x.code})`]))] : null);
    } catch (e) {
      fill(out, el("div", {}, `${accepted.toLocaleString()} numbers were accepted before this error:`), errorBox(e));
    } finally {
      $("upload-button").disabled = false;
      loadLists();
    }
  });

  // ---------- API keys ----------

  async function loadKeys() {
    const box = $("keys-table");
    try {
      const { data } = await api("GET", "/v1/keys");
      fill(box, table(["Name", "Role", "Created", ""], data.keys.map((k) =>
        [k.name, k.role, when(k.created_at),
          el("button", { type: "button", class: "danger", "data-key": k.name, onclick: () => revokeKey(k.name) }, "Revoke")])));
    } catch (e) { fill(box, errorBox(e)); }
  }
  loaders.keys = loadKeys;

  async function revokeKey(name) {
    if (!window.confirm(`Revoke the key “${name}”? Whatever uses it is refused from now on (on other instances within seconds). This cannot be undone.`)) return;
    const out = $("key-result");
    try {
      await api("DELETE", "/v1/keys/" + encodeURIComponent(name));
      fill(out, el("div", { class: "message", id: "key-message" }, `The key “${name}” is revoked.`));
    } catch (e) { fill(out, errorBox(e)); }
    loadKeys();
  }

  $("key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = $("key-result");
    const name = $("key-name").value.trim(), role = $("key-role").value;
    if (!name) return;
    try {
      const { data } = await api("POST", "/v1/keys", { name, role });
      $("key-name").value = "";
      fill(out, el("div", { class: "panel", id: "key-created" },
        el("p", {}, `The key “${data.name}” (role ${data.role}) is created. Copy its secret now: it is not shown again.`),
        el("p", {}, el("code", { id: "key-secret" }, data.key)),
        el("button", { type: "button", onclick: () => navigator.clipboard && navigator.clipboard.writeText(data.key) }, "Copy")));
    } catch (e) { fill(out, errorBox(e)); }
    loadKeys();
  });

  window.addEventListener("hashchange", route);
  route();
})();
