// Block Kit: the blocks and elements a message or a modal is made of, rendered as DOM.
// ctx: { users, me, act(element) -> Promise, confirm(confirmObject) -> Promise<boolean>,
//        expanded: Set of file ids shown in full, inModal: bool }

import { codeBlock, diffBlock, el, emojiFor, link, looksLikeDiff, markdown, mention, mrkdwn, plain }
  from "./text.js";

const IMAGE_URL = /^(https?:|data:image\/)/i;
const SNIPPET_LINES = 18; // lines of a file shown before "Show all"

/** A text object: mrkdwn or plain_text (a bare string counts as plain text). */
export function textObject(object, ctx) {
  if (!object) return document.createDocumentFragment();
  if (typeof object === "string") return plain(object);
  return object.type === "mrkdwn" ? mrkdwn(object.text, ctx) : plain(object.text);
}

export function renderBlocks(blocks, ctx) {
  const root = el("div", "blocks");
  for (const each of blocks || []) root.append(block(each, ctx));
  return root;
}

function block(b, ctx) {
  const node = renderBlock(b, ctx);
  node.classList.add("block");
  node.dataset.blockType = b.type;
  if (b.block_id) node.dataset.blockId = b.block_id;
  return node;
}

function renderBlock(b, ctx) {
  switch (b.type) {
    case "header":
      return el("div", "b-header", plain(b.text?.text));
    case "section":
      return section(b, ctx);
    case "context":
      return el("div", "b-context", ...(b.elements || []).map((e) => contextElement(e, ctx)));
    case "divider":
      return el("hr", "b-divider");
    case "actions":
      return el("div", "b-actions", ...(b.elements || []).map((e) => element(e, ctx)));
    case "image":
      return image(b);
    case "rich_text":
      return el("div", "b-rich", ...(b.elements || []).map((part) => richPart(part, ctx)));
    case "markdown":
      return el("div", "b-markdown", markdown(b.text, ctx));
    case "input":
      return input(b, ctx);
    default:
      return el("div", "b-unsupported", `[${b.type} block]`);
  }
}

function section(b, ctx) {
  const main = el("div", "section-main");
  if (b.text) main.append(el("div", "section-text", textObject(b.text, ctx)));
  if (b.fields?.length) {
    main.append(el("div", "fields", ...b.fields.map((f) => el("div", "field", textObject(f, ctx)))));
  }
  const node = el("div", "b-section", main);
  if (b.accessory) node.append(el("div", "accessory", element(b.accessory, ctx)));
  return node;
}

function contextElement(e, ctx) {
  if (e.type === "image") return imageTag(e.image_url, e.alt_text, "context-image");
  return el("span", "context-text", textObject(e, ctx));
}

function image(b) {
  const figure = el("figure", "b-image");
  if (b.title) figure.append(el("figcaption", null, plain(b.title.text)));
  figure.append(imageTag(b.image_url, b.alt_text, "image"));
  return figure;
}

function imageTag(url, alt, className) {
  if (!IMAGE_URL.test(String(url || ""))) return el("span", className, `[${alt || "image"}]`);
  const img = el("img", className);
  img.src = url;
  img.alt = alt || "";
  img.loading = "lazy";
  return img;
}

// -- interactive elements -------------------------------------------------------------------

function element(e, ctx) {
  if (e.type === "button") return button(e, ctx);
  if (e.type === "image") return imageTag(e.image_url, e.alt_text, "accessory-image");
  const chip = el("span", "unsupported-element", e.placeholder?.text || e.type);
  chip.title = `${e.type} elements are not supported by LocalSlack's page`;
  return chip;
}

function button(e, ctx) {
  const node = el("button", `btn${e.style ? ` ${e.style}` : ""}`, plain(e.text?.text));
  node.type = "button";
  node.dataset.actionId = e.action_id || "";
  if (!ctx.act) {
    node.disabled = true;
    node.title = "Buttons here do nothing in LocalSlack";
    return node;
  }
  node.addEventListener("click", async () => {
    if (e.confirm && !(await ctx.confirm(e.confirm))) return;
    if (e.url && /^(https?:|mailto:)/i.test(e.url)) window.open(e.url, "_blank", "noopener");
    node.disabled = true;
    node.classList.add("busy");
    try {
      await ctx.act(e);
    } finally {
      node.disabled = false;
      node.classList.remove("busy");
    }
  });
  return node;
}

function input(b, ctx) {
  const id = `input-${b.block_id || Math.random().toString(36).slice(2)}`;
  const label = el("label", "input-label", plain(b.label?.text));
  label.htmlFor = id;
  if (b.optional) label.append(el("span", "optional", " (optional)"));
  const node = el("div", "b-input", label);
  node.classList.add("input-block");
  const e = b.element || {};
  if (e.type === "plain_text_input") {
    const field = el(e.multiline ? "textarea" : "input", "text-input");
    field.id = id;
    if (!e.multiline) field.type = "text";
    else field.rows = 4;
    field.dataset.actionId = e.action_id || "";
    field.required = !b.optional;
    if (e.placeholder?.text) field.placeholder = e.placeholder.text;
    if (e.max_length) field.maxLength = e.max_length;
    if (e.initial_value) field.value = e.initial_value;
    node.append(field);
  } else {
    node.append(el("div", "unsupported-element", `${e.type} inputs are not supported here`));
  }
  if (b.hint) node.append(el("div", "input-hint", plain(b.hint.text)));
  node.append(el("div", "input-error"));
  return node;
}

// -- rich text -------------------------------------------------------------------------------

function richPart(part, ctx) {
  switch (part.type) {
    case "rich_text_section":
      return el("div", "rich-section", ...(part.elements || []).map((e) => richInline(e, ctx)));
    case "rich_text_list": {
      const list = el(part.style === "ordered" ? "ol" : "ul", `list indent-${part.indent || 0}`);
      if (part.offset) list.start = part.offset + 1;
      for (const item of part.elements || []) {
        list.append(el("li", null, ...(item.elements || []).map((e) => richInline(e, ctx))));
      }
      return list;
    }
    case "rich_text_preformatted":
      return codeBlock((part.elements || []).map((e) => e.text ?? e.url ?? "").join(""));
    case "rich_text_quote":
      return el("blockquote", "quote", ...(part.elements || []).map((e) => richInline(e, ctx)));
    default:
      return el("div", "b-unsupported", `[${part.type}]`);
  }
}

function richInline(e, ctx) {
  let node;
  switch (e.type) {
    case "text":
      node = document.createTextNode(e.text ?? "");
      break;
    case "link":
      node = link(e.url, e.text || e.url, ctx);
      break;
    case "user":
      node = mention(e.user_id, ctx);
      break;
    case "channel":
      node = el("span", "mention", `#${e.channel_id}`);
      break;
    case "usergroup":
      node = el("span", "mention", `@${e.usergroup_id}`);
      break;
    case "broadcast":
      node = el("span", "mention", `@${e.range}`);
      break;
    case "emoji":
      node = el("span", "emoji", unicodeEmoji(e.unicode) || emojiFor(e.name) || `:${e.name}:`);
      break;
    case "date":
      node = document.createTextNode(e.fallback || new Date(e.timestamp * 1000).toLocaleString());
      break;
    case "color":
      node = el("span", "color", el("span", "swatch"), e.value || "");
      node.firstChild.style.background = /^#[0-9a-f]{3,8}$/i.test(e.value) ? e.value : "";
      break;
    default:
      node = document.createTextNode("");
  }
  const style = e.style || {};
  if (style.code) node = el("code", "code", node);
  if (style.bold) node = el("strong", null, node);
  if (style.italic) node = el("em", null, node);
  if (style.strike) node = el("s", null, node);
  return node;
}

function unicodeEmoji(codes) {
  if (!codes || !/^[0-9a-f]+(-[0-9a-f]+)*$/i.test(codes)) return null;
  try {
    return String.fromCodePoint(...codes.split("-").map((hex) => parseInt(hex, 16)));
  } catch {
    return null;
  }
}

// -- files -------------------------------------------------------------------------------------

/** A shared file: a snippet card; a diff is shown as one, long ones folded. */
export function fileCard(file, ctx) {
  const kind = String(file.filetype || "text");
  const icon = el("span", `file-icon ${kind === "diff" ? "diff" : ""}`, kind === "diff" ? "±" : "≡");
  const details = [kind === "diff" ? "Diff" : kind, file.lines ? `${file.lines} lines` : null]
    .filter(Boolean)
    .join(" · ");
  const head = el(
    "div",
    "file-head",
    icon,
    el("div", "file-names", el("div", "file-title", file.title || file.name || "file"),
      el("div", "file-meta", details)),
  );
  const card = el("div", "file", head);
  card.dataset.fileId = file.id || "";
  if (typeof file.preview !== "string") return card;
  const isDiff = kind === "diff" || looksLikeDiff(file.preview);
  const body = isDiff ? diffBlock(file.preview) : el("pre", "pre", file.preview);
  body.classList.add("file-body");
  card.append(body);
  const long = (file.lines || 0) > SNIPPET_LINES;
  if (long) {
    const open = ctx.expanded.has(file.id);
    card.classList.toggle("folded", !open);
    const toggle = el("button", "file-toggle", open ? "Collapse" : `Show all ${file.lines} lines`);
    toggle.type = "button";
    toggle.addEventListener("click", () => {
      const nowOpen = !ctx.expanded.has(file.id);
      if (nowOpen) ctx.expanded.add(file.id);
      else ctx.expanded.delete(file.id);
      card.classList.toggle("folded", !nowOpen);
      toggle.textContent = nowOpen ? "Collapse" : `Show all ${file.lines} lines`;
    });
    card.append(toggle);
  }
  if (file.truncated) card.append(el("div", "file-meta", "Preview cut short: the file is large."));
  return card;
}
