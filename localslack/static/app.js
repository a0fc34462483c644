// The page: one channel as the picked person sees it, kept live by Server-Sent Events.
// The server sends the whole view (`/ui/events`, event `state`) after every change; the
// page re-renders from it. What the person does is POSTed to `/ui/*` as JSON.

import { fileCard, renderBlocks, textObject } from "./blocks.js";
import { el, emojiFor, mrkdwn, plain } from "./text.js";

const GROUP_SECONDS = 300; // consecutive messages of one author within this are grouped
const TASK_MARKS = { pending: "○", in_progress: "◐", complete: "✓", error: "✕" };
const QUICK_REACTIONS = ["x", "eyes", "+1", "white_check_mark"]; // the reaction menu
const $ = (id) => document.getElementById(id);

const page = {
  me: null, // the user id the page acts as
  channel: null, // the channel shown (null: LocalSlack's default)
  tab: "messages", // in a code channel: "messages" or "diff"
  snap: null, // the latest snapshot
  thread: null, // ts of the open thread's root
  source: null, // the EventSource
  modalKey: null, // id:hash of the modal on screen
  follow: null, // after "/taskmaster KEY": {until, known} to open the new run's thread
  dismissed: new Set(), // ephemerals the person dismissed (this page only)
  expanded: new Set(), // file ids shown in full
  reacting: null, // ts of the message whose reaction menu is open
};

// -- talking to LocalSlack --------------------------------------------------------------------

async function post(path, body) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: page.me, channel: page.snap?.channel.id, ...body }),
    });
    const answer = await response.json().catch(() => ({ ok: false, error: `http_${response.status}` }));
    if (!response.ok && answer.ok === undefined) answer.ok = false;
    return answer;
  } catch (error) {
    return { ok: false, error: "LocalSlack is not reachable" };
  }
}

function connect() {
  page.source?.close();
  setConnection("connecting", "Connecting…");
  const query = new URLSearchParams({ user: page.me });
  if (page.channel) query.set("channel", page.channel);
  const source = new EventSource(`/ui/events?${query}`);
  source.addEventListener("state", (event) => {
    setConnection("live", "Live");
    render(JSON.parse(event.data));
  });
  source.addEventListener("open", () => setConnection("live", "Live"));
  source.addEventListener("error", () => setConnection("down", "Reconnecting…"));
  page.source = source;
}

function setConnection(state, text) {
  $("connection").dataset.state = state;
  $("connection-text").textContent = text;
}

// -- rendering ----------------------------------------------------------------------------------

function context(message, { actionable = true } = {}) {
  const snap = page.snap;
  return {
    users: new Map(snap.users.map((u) => [u.id, u])),
    me: page.me,
    expanded: page.expanded,
    act: actionable && message ? (element) => click(message, element) : null,
    confirm: confirmDialog,
    openThread,
    threadOf,
  };
}

function render(snap) {
  page.snap = snap;
  page.me = snap.me;
  followNewThread(snap);
  renderPicker(snap);
  renderNotice(snap);
  renderChannels(snap);
  renderChannel(snap);
  renderThread(snap);
  renderModal(snap.view);
}

/** Open the thread of the run the person just started, as soon as it has one. */
function followNewThread(snap) {
  const follow = page.follow;
  if (!follow) return;
  if (Date.now() > follow.until) {
    page.follow = null;
    return;
  }
  const started = snap.messages.find((m) => !follow.known.has(m.ts) && m.reply_count);
  if (started) {
    page.follow = null;
    page.thread = started.ts;
    syncUrl();
  }
}

function renderNotice(snap) {
  const notice = $("notice");
  notice.hidden = !snap.notice;
  notice.textContent = snap.notice || "";
}

function renderPicker(snap) {
  const picker = $("user-picker");
  const people = snap.users.filter((u) => !u.is_bot);
  const key = people.map((u) => u.id).join(",");
  if (picker.dataset.key !== key) {
    picker.replaceChildren(
      ...people.map((u) => {
        const option = el("option", null, u.real_name ? `${u.name} — ${u.real_name}` : u.name);
        option.value = u.id;
        return option;
      }),
    );
    picker.dataset.key = key;
  }
  picker.value = page.me;
}

function renderChannels(snap) {
  $("channels").replaceChildren(
    ...snap.channels.map((c) => {
      const classes = [c.id === snap.channel.id ? "active" : "", c.archived ? "archived" : ""];
      const item = el("li", classes.join(" ").trim() || null, `${c.code ? "◆" : "#"} ${c.name}`);
      item.dataset.testid = c.code ? "code-channel" : "channel";
      item.dataset.channel = c.id;
      item.addEventListener("click", () => selectChannel(c.id));
      return item;
    }),
  );
  $("channel-title").textContent = `# ${snap.channel.name}`;
  document.title = `#${snap.channel.name} · TaskMaster demo`;
  $("composer-input").placeholder = `Message #${snap.channel.name} as ${nameOf(page.me)} — try /taskmaster TASK-101`;
}

function renderChannel(snap) {
  const items = [
    ...snap.messages.map((m) => ({ kind: "message", ts: m.ts, m })),
    ...snap.ephemerals
      .filter((e) => !e.thread_ts && !page.dismissed.has(e.ts))
      .map((e) => ({ kind: "ephemeral", ts: e.ts, m: e })),
  ].sort((a, b) => compareTs(a.ts, b.ts));
  const nodes = items.length ? listNodes(items, { inThread: false }) : [welcome(snap)];
  replaceKeepingScroll($("messages"), nodes);
  renderCodeChannel(snap);
}

/** A code channel's context bar, and its tabs: the messages, and the diff under review. */
function renderCodeChannel(snap) {
  const code = snap.code_channel;
  const bar = $("code-bar");
  const tabs = $("tabs");
  const diffTab = $("diff-tab");
  bar.hidden = tabs.hidden = !code;
  if (!code) {
    diffTab.hidden = true;
    $("messages").hidden = false;
    return;
  }
  bar.replaceChildren(
    ...code.context_bar.map((item) => {
      const chip = item.url ? el("a", "context-item", item.text) : el("span", "context-item", item.text);
      if (item.url) chip.href = item.url;
      return chip;
    }),
    ...(code.archived ? [el("span", "context-item archived", "archived")] : []),
  );
  const diff = code.views.find((v) => v.type === "diff");
  if (!diff && page.tab === "diff") page.tab = "messages";
  const tab = (key, label) => {
    const button = el("button", `tab${page.tab === key ? " active" : ""}`, label);
    button.type = "button";
    button.dataset.testid = `tab-${key}`;
    button.addEventListener("click", () => {
      page.tab = key;
      renderCodeChannel(page.snap);
    });
    return button;
  };
  tabs.replaceChildren(
    tab("messages", "Messages"),
    ...(diff ? [tab("diff", `Diff · ${diff.name || "review"}`)] : []),
  );
  $("messages").hidden = page.tab === "diff";
  diffTab.hidden = page.tab !== "diff";
  if (diff && page.tab === "diff") {
    const lines = diff.content.split("\n").length;
    const file = { id: `view-${diff.view_key}`, title: diff.name || "Diff", filetype: "diff", preview: diff.content, lines };
    diffTab.replaceChildren(fileCard(file, { ...context(null), expanded: new Set([file.id]) }));
  }
}

/** A streamed message's plan and task timeline (Slack's agent surface). */
function streamNode(stream) {
  const node = el("div", `stream${stream.streaming ? " live" : ""}`);
  node.dataset.testid = "stream";
  if (stream.plan_title) node.append(el("div", "stream-plan", stream.plan_title));
  const tasks = el("ol", "tasks");
  for (const task of stream.tasks) {
    const item = el(
      "li",
      "task",
      el("span", "task-mark", TASK_MARKS[task.status] || "•"),
      el("span", "task-title", task.title),
      task.details ? el("div", "task-details", task.details) : null,
      task.output ? el("pre", "task-output", task.output) : null,
    );
    item.dataset.status = task.status;
    item.dataset.testid = "task";
    tasks.append(item);
  }
  node.append(tasks);
  if (stream.markdown) node.append(el("div", "stream-text", mrkdwn(stream.markdown, context(null))));
  if (stream.streaming) node.append(el("div", "stream-live", "streaming…"));
  return node;
}

function renderThread(snap) {
  const pane = $("thread");
  const root = page.thread && snap.messages.find((m) => m.ts === page.thread);
  if (!root) {
    pane.hidden = true;
    return;
  }
  const opening = pane.hidden || pane.dataset.root !== root.ts;
  pane.hidden = false;
  pane.dataset.root = root.ts;
  const session = (snap.sessions || {})[root.ts];
  $("thread-sub").textContent = `# ${snap.channel.name}${session ? ` · ${session}` : ""}`;
  const stop = $("thread-stop");
  stop.hidden = session !== "processing";
  stop.onclick = async () => {
    const answer = await post("/ui/stop", { thread_ts: root.ts });
    if (!answer.ok) toast(`That didn't work: ${answer.error}`);
  };
  const replies = snap.replies[root.ts] || [];
  const items = [
    ...replies.map((m) => ({ kind: "message", ts: m.ts, m })),
    ...snap.ephemerals
      .filter((e) => e.thread_ts === root.ts && !page.dismissed.has(e.ts))
      .map((e) => ({ kind: "ephemeral", ts: e.ts, m: e })),
  ].sort((a, b) => compareTs(a.ts, b.ts));
  const count = replies.length;
  const nodes = [
    messageNode(root, { inThread: true, grouped: false }),
    el("div", "thread-divider", el("span", null, `${count} ${count === 1 ? "reply" : "replies"}`)),
    ...listNodes(items, { inThread: true }),
  ];
  replaceKeepingScroll($("thread-messages"), nodes, opening);
}

function listNodes(items, { inThread }) {
  let previous = null;
  return items.map((item) => {
    const grouped =
      previous !== null &&
      item.kind === "message" &&
      previous.kind === "message" &&
      previous.m.user === item.m.user &&
      !previous.m.reply_count &&
      seconds(item.ts) - seconds(previous.ts) < GROUP_SECONDS;
    previous = item;
    return item.kind === "ephemeral"
      ? ephemeralNode(item.m)
      : messageNode(item.m, { inThread, grouped });
  });
}

function welcome(snap) {
  const chips = (snap.suggestions || []).map((text) => {
    const chip = el("button", "suggestion", text);
    chip.type = "button";
    chip.addEventListener("click", () => {
      $("composer-input").value = text;
      $("composer-input").focus();
      updateHint();
    });
    return chip;
  });
  return el(
    "div",
    "welcome",
    el("div", "welcome-title", `This is the very beginning of #${snap.channel.name}`),
    el(
      "p",
      null,
      "TaskMaster turns a ticket into a reviewed pull request. Start a run with a slash command below; ",
      "its progress, the review and the result appear in a thread.",
    ),
    el("div", "suggestions", ...chips),
  );
}

function messageNode(m, { inThread, grouped }) {
  const author = authorOf(m);
  const node = el("div", `msg${grouped ? " grouped" : ""}`);
  node.dataset.ts = m.ts;
  node.dataset.testid = "message";
  const time = el("time", "time", clock(m.ts));
  time.title = new Date(seconds(m.ts) * 1000).toLocaleString();
  const gutter = grouped ? el("div", "gutter", shortClock(m.ts)) : avatar(author);
  const body = el("div", "msg-body");
  if (!grouped) {
    body.append(
      el(
        "div",
        "meta",
        el("span", "author", author.display),
        author.isBot ? el("span", "app-badge", "APP") : null,
        time,
        m.edited ? el("span", "edited", "(edited)") : null,
      ),
    );
  }
  const ctx = context(m);
  if (m.stream) body.append(streamNode(m.stream));
  const shown = m.blocks?.length ? renderBlocks(m.blocks, ctx) : m.stream ? null : mrkdwn(m.text, ctx);
  if (shown) body.append(el("div", "content", shown));
  for (const file of m.files || []) body.append(fileCard(file, ctx));
  body.append(reactionsRow(m));
  if (!inThread && m.reply_count) {
    const replies = el(
      "button",
      "replies",
      `${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}`,
      el("span", "replies-hint", "View thread"),
    );
    replies.type = "button";
    replies.addEventListener("click", () => openThread(m.ts));
    body.append(replies);
  }
  node.append(gutter, body);
  return node;
}

/** The reactions on a message, and the menu a person adds one from. */
function reactionsRow(m) {
  const row = el("div", "reactions");
  for (const reaction of m.reactions || []) {
    const mine = reaction.users.includes(page.me);
    const chip = el(
      "button",
      `reaction${mine ? " mine" : ""}`,
      el("span", "emoji", emojiFor(reaction.name) || `:${reaction.name}:`),
      el("span", "count", String(reaction.count)),
    );
    chip.type = "button";
    chip.title = `:${reaction.name}: by ${reaction.users.map(nameOf).join(", ")}`;
    chip.dataset.reaction = reaction.name;
    chip.addEventListener("click", () => react(m, reaction.name));
    row.append(chip);
  }
  const add = el("button", "reaction add", "☺+");
  add.type = "button";
  add.title = "Add a reaction";
  add.setAttribute("aria-label", "Add a reaction");
  add.addEventListener("click", () => {
    page.reacting = page.reacting === m.ts ? null : m.ts;
    render(page.snap);
  });
  row.append(add);
  if (page.reacting === m.ts) {
    const menu = el("div", "reaction-menu");
    for (const name of QUICK_REACTIONS) {
      const pick = el("button", "reaction-pick", el("span", "emoji", emojiFor(name)));
      pick.type = "button";
      pick.title = `:${name}:`;
      pick.dataset.reaction = name;
      pick.addEventListener("click", () => react(m, name));
      menu.append(pick);
    }
    row.append(menu);
  }
  return row;
}

async function react(message, name) {
  page.reacting = null;
  const answer = await post("/ui/react", { ts: message.ts, name });
  if (!answer.ok) toast(answer.error === "already_reacted" ? "You reacted with that already" : `That didn't work: ${answer.error}`);
  else render(page.snap);
}

function ephemeralNode(e) {
  const node = el("div", "msg ephemeral");
  node.dataset.ts = e.ts;
  node.dataset.testid = "ephemeral";
  const dismiss = el("button", "dismiss", "Dismiss");
  dismiss.type = "button";
  dismiss.addEventListener("click", () => {
    page.dismissed.add(e.ts);
    render(page.snap);
  });
  const ctx = context({ channel: e.channel, ts: e.ts });
  node.append(
    avatar(authorOf({ user: "U_TASKMASTER", bot_id: "B" })),
    el(
      "div",
      "msg-body",
      el("div", "only-you", el("span", "eye", "👁"), "Only visible to you", dismiss),
      el("div", "meta", el("span", "author", "TaskMaster"), el("span", "app-badge", "APP"),
        el("time", "time", clock(e.ts))),
      el("div", "content", e.blocks?.length ? renderBlocks(e.blocks, ctx) : mrkdwn(e.text, ctx)),
    ),
  );
  return node;
}

function authorOf(m) {
  const user = page.snap.users.find((u) => u.id === m.user);
  const isBot = Boolean(m.bot_id) || Boolean(user?.is_bot);
  const display = isBot ? "TaskMaster" : user?.real_name || user?.name || m.user;
  return { id: m.user, isBot, display, name: user?.name || m.user };
}

function avatar(author) {
  if (author.isBot) return el("div", "avatar bot", "T");
  const node = el("div", "avatar", author.display.slice(0, 1).toUpperCase());
  node.style.background = `hsl(${hue(author.id)} 55% 45%)`;
  return node;
}

// -- modals and confirmations ---------------------------------------------------------------

function renderModal(view) {
  const overlay = $("modal");
  if (!view) {
    if (!overlay.hidden) setBackdrop(overlay, false);
    overlay.replaceChildren();
    page.modalKey = null;
    return;
  }
  const key = `${view.id}:${view.hash}`;
  if (page.modalKey !== key) {
    overlay.replaceChildren(modalDialog(view));
    setBackdrop(overlay, true);
    page.modalKey = key;
    overlay.querySelector("textarea, input")?.focus();
  }
  showErrors(overlay, view.errors || {});
}

function modalDialog(view) {
  const spec = view.view;
  const title = el("h2", "dialog-title", plain(spec.title?.text || "Modal"));
  title.id = "modal-title";
  const close = el("button", "icon-button", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close");
  close.addEventListener("click", () => closeModal(view.id));
  const form = el("form", "dialog", el("header", "dialog-head", title, close));
  form.setAttribute("role", "dialog");
  form.setAttribute("aria-modal", "true");
  form.setAttribute("aria-labelledby", "modal-title");
  form.noValidate = true;
  form.append(el("div", "dialog-body", renderBlocks(spec.blocks, context(null, { actionable: false }))));
  const cancel = el("button", "btn", plain(spec.close?.text || "Cancel"));
  cancel.type = "button";
  cancel.addEventListener("click", () => closeModal(view.id));
  const footer = el("footer", "dialog-foot", cancel);
  if (spec.submit) {
    const submit = el("button", "btn primary", plain(spec.submit.text));
    submit.type = "submit";
    footer.append(submit);
  }
  form.append(footer);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeModal(view.id);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { values, missing } = collectValues(form);
    if (Object.keys(missing).length) {
      showErrors(form, missing);
      return;
    }
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    const answer = await post("/ui/submit", { view_id: view.id, values });
    submit.disabled = false;
    if (!answer.ok) toast(`Could not submit: ${answer.error}`);
    else if (answer.errors) showErrors(form, answer.errors);
  });
  return form;
}

function collectValues(form) {
  const values = {};
  const missing = {};
  for (const block of form.querySelectorAll(".input-block[data-block-id]")) {
    const field = block.querySelector("[data-action-id]");
    if (!field || !("value" in field)) continue;
    if (field.required && !field.value.length) missing[block.dataset.blockId] = "Please complete this required field.";
    values[block.dataset.blockId] = { [field.dataset.actionId]: field.value };
  }
  return { values, missing };
}

function showErrors(root, errors) {
  for (const block of root.querySelectorAll(".input-block[data-block-id]")) {
    const message = errors[block.dataset.blockId] || "";
    block.querySelector(".input-error").textContent = message;
    block.classList.toggle("has-error", Boolean(message));
  }
}

/** Show or hide an overlay; while one is up, the page under it takes no input. */
function setBackdrop(overlay, shown) {
  overlay.hidden = !shown;
  document.querySelector(".app").inert = !$("modal").hidden || !$("confirm").hidden;
}

async function closeModal(viewId) {
  page.modalKey = null;
  setBackdrop($("modal"), false);
  await post("/ui/close", { view_id: viewId });
}

function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const overlay = $("confirm");
    const done = (answer) => {
      setBackdrop(overlay, false);
      overlay.replaceChildren();
      resolve(answer);
    };
    const deny = el("button", "btn", plain(confirm.deny?.text || "Cancel"));
    deny.type = "button";
    deny.addEventListener("click", () => done(false));
    const yes = el("button", `btn ${confirm.style === "danger" ? "danger" : "primary"}`,
      plain(confirm.confirm?.text || "Yes"));
    yes.type = "button";
    yes.addEventListener("click", () => done(true));
    const dialog = el(
      "div",
      "dialog small",
      el("header", "dialog-head", el("h2", "dialog-title", plain(confirm.title?.text || "Are you sure?"))),
      el("div", "dialog-body", textObject(confirm.text, context(null, { actionable: false }))),
      el("footer", "dialog-foot", deny, yes),
    );
    dialog.setAttribute("role", "alertdialog");
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "Escape") done(false);
    });
    overlay.replaceChildren(dialog);
    setBackdrop(overlay, true);
    yes.focus();
  });
}

// -- actions -----------------------------------------------------------------------------------

async function click(message, element) {
  const answer = await post("/ui/click", {
    channel: message.channel || page.snap.channel.id,
    ts: message.ts,
    action_id: element.action_id,
    value: element.value ?? null,
  });
  if (!answer.ok) toast(`That didn't work: ${answer.error}`);
}

async function send(event) {
  event?.preventDefault();
  const input = $("composer-input");
  const text = input.value.trim();
  if (!text || !page.snap) return;
  input.value = "";
  updateHint();
  if (/^\/taskmaster\s+[A-Za-z][\w]*-\d+\s*$/.test(text)) {
    page.follow = { until: Date.now() + 15000, known: new Set(page.snap.messages.map((m) => m.ts)) };
  }
  const answer = text.startsWith("/")
    ? await post("/ui/command", { text })
    : await post("/ui/message", { text });
  if (!answer.ok && !answer.shown) toast(`Not sent: ${answer.error}`);
}

async function reply(event) {
  event?.preventDefault();
  const input = $("thread-input");
  const text = input.value.trim();
  if (!text || !page.thread) return;
  input.value = "";
  const answer = await post("/ui/message", { text, thread_ts: page.thread });
  if (!answer.ok) toast(`Not sent: ${answer.error}`);
}

function updateHint() {
  const hint = $("composer-hint");
  const text = $("composer-input").value;
  if (!text.startsWith("/") || (text.includes(" ") && !text.startsWith("/taskmaster"))) {
    hint.hidden = true;
    return;
  }
  hint.replaceChildren(
    el("code", null, "/taskmaster"),
    " ",
    el("span", "muted", "TASK-101 · help · status [KEY] · cancel KEY"),
  );
  hint.hidden = false;
}

function openThread(ts) {
  page.thread = ts;
  syncUrl();
  if (page.snap) renderThread(page.snap);
}

function closeThread() {
  page.thread = null;
  syncUrl();
  $("thread").hidden = true;
}

/** The root ts a LocalSlack permalink points at, or null for any other URL. */
function threadOf(url) {
  let parsed;
  try {
    parsed = new URL(url, location.href);
  } catch {
    return null;
  }
  if (parsed.origin !== location.origin || !parsed.pathname.startsWith("/archives/")) return null;
  const digits = parsed.pathname.split("/").pop().replace(/^p/, "");
  const ts = parsed.searchParams.get("thread_ts") || `${digits.slice(0, -6)}.${digits.slice(-6)}`;
  return ts;
}

function selectUser(id) {
  if (id === page.me) return;
  page.me = id;
  page.modalKey = null;
  localStorage.setItem("localslack.user", id);
  syncUrl();
  connect();
}

function selectChannel(id) {
  if (id === page.snap?.channel.id) return;
  page.channel = id;
  page.thread = null;
  page.tab = "messages";
  syncUrl();
  connect();
}

function syncUrl() {
  const params = new URLSearchParams();
  params.set("user", page.me);
  if (page.channel) params.set("channel", page.channel);
  if (page.thread) params.set("thread", page.thread);
  history.replaceState(null, "", `/?${params}`);
}

// -- small helpers -----------------------------------------------------------------------------

function toast(text) {
  const node = el("div", "toast", text);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 5000);
}

function replaceKeepingScroll(container, nodes, toBottom = false) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 80;
  const top = container.scrollTop;
  container.replaceChildren(...nodes);
  container.scrollTop = toBottom || atBottom ? container.scrollHeight : top;
}

function seconds(ts) {
  return Number(String(ts).split(".")[0]);
}

function compareTs(a, b) {
  const [as, au = "0"] = String(a).split(".");
  const [bs, bu = "0"] = String(b).split(".");
  return Number(as) - Number(bs) || Number(au) - Number(bu);
}

function clock(ts) {
  return new Date(seconds(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function shortClock(ts) {
  const date = new Date(seconds(ts) * 1000);
  return `${date.getHours()}:${String(date.getMinutes()).padStart(2, "0")}`;
}

function hue(text) {
  let h = 0;
  for (const ch of String(text)) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

function nameOf(id) {
  return page.snap?.users.find((u) => u.id === id)?.name || id;
}

// -- start ---------------------------------------------------------------------------------------

function start() {
  const params = new URLSearchParams(location.search);
  page.me = params.get("user") || localStorage.getItem("localslack.user") || "U_ANA";
  page.thread = params.get("thread");
  page.channel = params.get("channel");
  $("composer").addEventListener("submit", send);
  $("composer-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) send(event);
  });
  $("composer-input").addEventListener("input", updateHint);
  $("thread-close").addEventListener("click", closeThread);
  $("thread-composer").addEventListener("submit", reply);
  $("thread-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) reply(event);
  });
  $("user-picker").addEventListener("change", (event) => selectUser(event.target.value));
  connect();
}

start();
