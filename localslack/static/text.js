// Text formatting: Slack mrkdwn, standard Markdown (the `markdown` block), emoji, diffs.
// Everything is built as DOM nodes with textContent: no string of a message ever becomes HTML.

const EMOJI = {
  "+1": "👍", "-1": "👎", "02": "🕑", arrow_forward: "▶️", arrows_counterclockwise: "🔄",
  ballot_box_with_check: "☑️", bangbang: "‼️", black_square_for_stop: "⏹️", bulb: "💡",
  bust_in_silhouette: "👤", clipboard: "📋", construction: "🚧", eyes: "👀", gear: "⚙️",
  grey_question: "❔", heart: "❤️", heavy_check_mark: "✔️", heavy_minus_sign: "➖",
  heavy_plus_sign: "➕", hourglass: "⌛", hourglass_flowing_sand: "⏳", information_source: "ℹ️",
  large_blue_circle: "🔵", large_green_circle: "🟢", large_yellow_circle: "🟡", link: "🔗",
  lock: "🔒", mag: "🔍", memo: "📝", no_entry: "⛔", no_entry_sign: "🚫", octagonal_sign: "🛑",
  ok_hand: "👌", package: "📦", pencil: "📝", pencil2: "✏️", point_right: "👉", red_circle: "🔴",
  repeat: "🔁", rocket: "🚀", smile: "😄", sparkles: "✨", speech_balloon: "💬",
  stopwatch: "⏱️", tada: "🎉", test_tube: "🧪", thumbsup: "👍", thumbsdown: "👎", ticket: "🎫",
  warning: "⚠️", wastebasket: "🗑️", wave: "👋", white_check_mark: "✅", white_circle: "⚪",
  white_large_square: "⬜", wrench: "🔧", x: "❌", zap: "⚡", zzz: "💤",
};

const SAFE_URL = /^(https?:|mailto:|file:)/i;

/** Create an element with a class and children (strings become text nodes). */
export function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** Slack escapes &, < and > in message text; entities between real < > are markup. */
export function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function emojiFor(name) {
  return Object.hasOwn(EMOJI, name) ? EMOJI[name] : null;
}

/** Plain text with :emoji: codes (Slack's plain_text objects with `emoji: true`). */
export function plain(text) {
  const frag = document.createDocumentFragment();
  const source = String(text ?? "");
  let last = 0;
  for (const match of source.matchAll(/:([a-z0-9_+-]+):/g)) {
    const glyph = emojiFor(match[1]);
    if (!glyph) continue;
    frag.append(source.slice(last, match.index), emojiNode(glyph, match[1]));
    last = match.index + match[0].length;
  }
  frag.append(source.slice(last));
  return frag;
}

function emojiNode(glyph, name) {
  const node = el("span", "emoji", glyph);
  node.title = `:${name}:`;
  return node;
}

/** A link only for schemes a demo may follow; anything else stays plain text. */
export function link(url, label, ctx) {
  if (!SAFE_URL.test(url)) return document.createTextNode(label || url);
  const a = el("a", "link", label || url);
  a.href = url;
  a.title = url;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  const thread = ctx?.threadOf?.(url);
  if (thread) {
    a.addEventListener("click", (event) => {
      event.preventDefault();
      ctx.openThread(thread);
    });
  }
  return a;
}

/** `@name` for a user id, marked when it is the person viewing the page. */
export function mention(userId, ctx) {
  const user = ctx?.users?.get(userId);
  const node = el("span", "mention", `@${user ? user.name : userId}`);
  if (userId === ctx?.me) node.classList.add("me");
  if (user?.real_name) node.title = user.real_name;
  return node;
}

// -- Slack mrkdwn -------------------------------------------------------------------------

/** Render Slack mrkdwn: *bold*, _italic_, ~strike~, `code`, ```blocks```, > quotes, links,
 *  mentions and emoji. Code blocks that hold a diff are shown as one. */
export function mrkdwn(text, ctx) {
  const frag = document.createDocumentFragment();
  const parts = String(text ?? "").split("```");
  parts.forEach((part, index) => {
    const isCode = index % 2 === 1 && index < parts.length - 1;
    if (isCode) {
      frag.append(codeBlock(unescapeSlack(part.replace(/^\n/, "").replace(/\n$/, ""))));
      return;
    }
    let prose = index % 2 === 1 ? "```" + part : part; // an unclosed fence is text
    if (index > 0) prose = prose.replace(/^\n/, "");
    if (index < parts.length - 1) prose = prose.replace(/\n$/, "");
    if (prose) frag.append(lines(prose, ctx));
  });
  return frag;
}

function lines(text, ctx) {
  const frag = document.createDocumentFragment();
  let quote = null;
  text.split("\n").forEach((line, index, all) => {
    const quoted = /^(&gt;|>)\s?/.exec(line);
    if (quoted) {
      if (!quote) frag.append((quote = el("blockquote", "quote")));
      else quote.append(el("br"));
      quote.append(inline(line.slice(quoted[0].length), ctx));
      return;
    }
    quote = null;
    frag.append(inline(line, ctx));
    if (index < all.length - 1 && !/^(&gt;|>)/.test(all[index + 1])) frag.append(el("br"));
  });
  return frag;
}

const TOKEN = new RegExp(
  [
    "<([^<>\\n]+)>", // 1 entity: <url|label>, <@U1>, <#C1|name>, <!here>
    "`([^`\\n]+)`", // 2 code
    "(?<![\\w*])\\*(?!\\s)([^*\\n]+?)(?<!\\s)\\*(?![\\w*])", // 3 bold
    "(?<![\\w_])_(?!\\s)([^_\\n]+?)(?<!\\s)_(?![\\w_])", // 4 italic
    "(?<![\\w~])~(?!\\s)([^~\\n]+?)(?<!\\s)~(?![\\w~])", // 5 strike
    "(?<![\\w:]):([a-z0-9_+-]+):(?![\\w:])", // 6 emoji
  ].join("|"),
  "g",
);

function inline(text, ctx) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    const [whole, entity, code, bold, italic, strike, emoji] = match;
    let node = null;
    if (entity !== undefined) node = slackEntity(entity, ctx);
    else if (code !== undefined) node = el("code", "code", unescapeSlack(code));
    else if (bold !== undefined) node = wrap("strong", inline(bold, ctx));
    else if (italic !== undefined) node = wrap("em", inline(italic, ctx));
    else if (strike !== undefined) node = wrap("s", inline(strike, ctx));
    else if (emoji !== undefined && emojiFor(emoji)) node = emojiNode(emojiFor(emoji), emoji);
    if (!node) continue;
    frag.append(unescapeSlack(text.slice(last, match.index)), node);
    last = match.index + whole.length;
  }
  frag.append(unescapeSlack(text.slice(last)));
  return frag;
}

/** `<!date^SECONDS^{time}|fallback>`: a time in the reader's own time zone, as Slack shows it. */
function slackDate([seconds, format = ""], fallback) {
  const when = new Date(Number(seconds) * 1000);
  if (!Number.isFinite(when.getTime())) return document.createTextNode(fallback || "");
  const time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const date = when.toLocaleDateString([], { year: "numeric", month: "long", day: "numeric" });
  const text = format
    .replace("{time}", time)
    .replace("{date_short}", when.toLocaleDateString())
    .replace("{date_num}", when.toISOString().slice(0, 10))
    .replace("{date}", date);
  const node = el("time", "date", text || fallback || "");
  node.dateTime = when.toISOString();
  node.title = when.toLocaleString();
  return node;
}

function wrap(tag, content) {
  return el(tag, null, content);
}

function slackEntity(body, ctx) {
  const bar = body.indexOf("|");
  const target = bar < 0 ? body : body.slice(0, bar);
  const label = bar < 0 ? "" : unescapeSlack(body.slice(bar + 1));
  if (target.startsWith("@")) return mention(target.slice(1), ctx);
  if (target.startsWith("#")) return el("span", "mention", `#${label || target.slice(1)}`);
  if (target.startsWith("!")) {
    const [special, ...args] = target.slice(1).split("^");
    if (["here", "channel", "everyone"].includes(special)) return el("span", "mention", `@${special}`);
    if (special === "date") return slackDate(args, label);
    if (special === "subteam") return el("span", "mention", label || `@${args[0] || "group"}`);
    return el("span", "mention", label || `@${special}`);
  }
  return link(unescapeSlack(target), label, ctx);
}

// -- code and diffs -------------------------------------------------------------------------

export function looksLikeDiff(text) {
  return /^(diff --git |--- |\+\+\+ |@@ )/m.test(text) && /^@@ .* @@/m.test(text);
}

/** A code block; a diff gets a line per row, added green, removed red, hunks blue. */
export function codeBlock(text, { forceDiff = false } = {}) {
  if (forceDiff || looksLikeDiff(text)) return diffBlock(text);
  return el("pre", "pre", text);
}

export function diffBlock(text) {
  const pre = el("pre", "pre diff");
  const rows = text.replace(/\n$/, "").split("\n");
  for (const row of rows) {
    let kind = "ctx";
    if (/^(diff --git|index |--- |\+\+\+ |new file|deleted file|similarity|rename )/.test(row)) {
      kind = "meta";
    } else if (row.startsWith("@@")) kind = "hunk";
    else if (row.startsWith("+")) kind = "add";
    else if (row.startsWith("-")) kind = "del";
    pre.append(el("span", `line ${kind}`, row || " "));
  }
  return pre;
}

// -- standard Markdown (the `markdown` block) -------------------------------------------------

/** A safe subset of Markdown: headings, lists, quotes, fences, rules, paragraphs, inlines. */
export function markdown(text, ctx) {
  const root = el("div", "md");
  const rows = String(text ?? "").split("\n");
  let i = 0;
  while (i < rows.length) {
    const row = rows[i];
    const fence = /^```(\S*)\s*$/.exec(row);
    if (fence) {
      const body = [];
      for (i += 1; i < rows.length && !/^```\s*$/.test(rows[i]); i += 1) body.push(rows[i]);
      i += 1;
      root.append(codeBlock(body.join("\n"), { forceDiff: fence[1] === "diff" }));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(row);
    if (heading) {
      root.append(el(`h${Math.min(heading[1].length + 2, 6)}`, "md-h", mdInline(heading[2], ctx)));
      i += 1;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(row)) {
      root.append(el("hr", "divider"));
      i += 1;
      continue;
    }
    if (/^>\s?/.test(row)) {
      const quote = el("blockquote", "quote");
      for (; i < rows.length && /^>\s?/.test(rows[i]); i += 1) {
        if (quote.childNodes.length) quote.append(el("br"));
        quote.append(mdInline(rows[i].replace(/^>\s?/, ""), ctx));
      }
      root.append(quote);
      continue;
    }
    const item = /^(\s*)([-*+]|\d+[.)])\s+/.exec(row);
    if (item) {
      const ordered = /\d/.test(item[2]);
      const list = el(ordered ? "ol" : "ul", "list");
      for (; i < rows.length; i += 1) {
        const each = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/.exec(rows[i]);
        if (!each) break;
        const li = el("li", null, mdInline(each[3], ctx));
        if (each[1].length >= 2) li.classList.add("indent");
        list.append(li);
      }
      root.append(list);
      continue;
    }
    if (!row.trim()) {
      i += 1;
      continue;
    }
    const para = el("p", "md-p");
    for (; i < rows.length && rows[i].trim() && !isMdBlockStart(rows[i]); i += 1) {
      if (para.childNodes.length) para.append(el("br"));
      para.append(mdInline(rows[i], ctx));
    }
    root.append(para);
  }
  return root;
}

function isMdBlockStart(row) {
  return /^(```|#{1,6}\s|>|\s*([-*+]|\d+[.)])\s)/.test(row);
}

const MD_TOKEN = new RegExp(
  [
    "`([^`\\n]+)`", // 1 code
    "\\[([^\\]\\n]+)\\]\\(([^)\\s]+)\\)", // 2,3 link
    "\\*\\*(.+?)\\*\\*|__(.+?)__", // 4,5 bold
    "(?<![\\w*])\\*(?!\\s)(.+?)(?<!\\s)\\*(?![\\w*])|(?<![\\w_])_(?!\\s)(.+?)(?<!\\s)_(?![\\w_])", // 6,7 italic
    "~~(.+?)~~", // 8 strike
    "<(https?://[^>\\s]+)>", // 9 autolink
    "(?<![\\w:]):([a-z0-9_+-]+):(?![\\w:])", // 10 emoji
  ].join("|"),
  "g",
);

function mdInline(text, ctx) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(MD_TOKEN)) {
    let node = null;
    if (m[1] !== undefined) node = el("code", "code", m[1]);
    else if (m[2] !== undefined) node = link(m[3], m[2], ctx);
    else if (m[4] !== undefined || m[5] !== undefined) node = wrap("strong", mdInline(m[4] ?? m[5], ctx));
    else if (m[6] !== undefined || m[7] !== undefined) node = wrap("em", mdInline(m[6] ?? m[7], ctx));
    else if (m[8] !== undefined) node = wrap("s", mdInline(m[8], ctx));
    else if (m[9] !== undefined) node = link(m[9], m[9], ctx);
    else if (m[10] !== undefined && emojiFor(m[10])) node = emojiNode(emojiFor(m[10]), m[10]);
    if (!node) continue;
    frag.append(text.slice(last, m.index), node);
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}
