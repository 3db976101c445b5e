import type { Tokens } from "marked";

/**
 * The model's answers as HTML that can do nothing but show text. A model repeats what it reads (log lines, web pages,
 * files), so its text is untrusted: `marked` turns markdown into HTML with raw HTML shown as text, links kept only when
 * they are http(s) and images shown as links (the dashboard's CSP would refuse other hosts' images anyway), then
 * `DOMPurify` removes whatever else could run or load (event handlers, `javascript:` or `data:` addresses, forms,
 * frames, styles) from the result. A link's text can name any place, so every link is followed by the host it really
 * goes to (unless its text is the address itself) and has the whole address as its tooltip, in place of any title the
 * model gave. The two libraries are small and well kept: parsing markdown and sanitising HTML are exactly the things
 * not to write by hand. Each loads in a chunk of its own the first time an answer is shown, so neither the first page
 * nor the chat page carries them.
 */

const SAFE_URL = /^https?:\/\//i;

/** Printable ASCII without `&`: text that reads exactly as it is written. */
const PLAIN_ADDRESS = /^[\x21-\x25\x27-\x7e]+$/;

/** The one class the answer's HTML may carry: the host after a link. Any other (a code block's info string) goes. */
const OUR_CLASS = "link-host";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A link to `href` around `html` (already made safe), or `html` alone when `href` is not an http(s) address, followed
 * by the host it really goes to. The host is the browser's URL parser's, as the click will use it: an internationalised
 * look-alike name comes out in punycode (`xn--…`), which no longer looks like the name it imitates. It is left out
 * only when `text`, what the reader sees, is the address itself with that very host right after the scheme: not a
 * look-alike written in Unicode, not `https://cortex.example@evil.example`.
 */
function linkTo(href: string, html: string, text: string): string {
  if (!SAFE_URL.test(href)) return html;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return html;
  }
  const origin = `${url.protocol}//${url.host}`;
  // Plain ASCII only: a character reference (`&sol;` reads "/") or a bidi control can make the text show another host.
  const hostInSight = text === href && PLAIN_ADDRESS.test(text) && text.startsWith(origin) && /^(?:[/?#]|$)/.test(text.slice(origin.length));
  const host = hostInSight ? "" : ` <span class="${OUR_CLASS}">(${escapeHtml(url.host)})</span>`;
  return `<a href="${escapeHtml(url.href)}" title="${escapeHtml(url.href)}">${html}</a>${host}`;
}

const ALLOWED_TAGS = ["p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "span", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "input"];
const ALLOWED_ATTR = ["href", "title", "start", "type", "checked", "disabled", "class"];

/** Loads both libraries and returns the function that turns the model's markdown into inert HTML. */
export async function loadMarkdown(): Promise<(text: string) => string> {
  const [{ Marked }, { default: DOMPurify }] = await Promise.all([import("marked"), import("dompurify")]);
  const marked = new Marked({ gfm: true, breaks: true, async: false });
  marked.use({
    renderer: {
      html({ text }: Tokens.HTML | Tokens.Tag): string {
        return escapeHtml(text);
      },
      // The text as read, not as written: `[https://a*b*.example](…)` reads "https://ab.example", another host.
      link({ href, tokens }: Tokens.Link): string {
        return linkTo(href, this.parser.parseInline(tokens), this.parser.parseInline(tokens, this.parser.textRenderer));
      },
      image({ href, text }: Tokens.Image): string {
        const label = `[image: ${text || "untitled"}]`;
        return linkTo(href, escapeHtml(label), label);
      },
    },
  });
  // Links leave the dashboard in a new tab that cannot reach back into it (no opener, no referrer).
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
    // A class from the answer could dress its text as the dashboard's own notices or buttons.
    if (node.hasAttribute("class") && !(node.tagName === "SPAN" && node.getAttribute("class") === OUR_CLASS)) node.removeAttribute("class");
    // Task-list checkboxes are the only inputs markdown makes; they show a state, never take one.
    if (node.tagName === "INPUT" && node.getAttribute("type") !== "checkbox") node.remove();
    else if (node.tagName === "INPUT") node.setAttribute("disabled", "");
  });
  // DOMPurify holds every other attribute's value to the address pattern: a task's `type="checkbox"` and a list's
  // `start="3"` would go, and with them the checkbox (the hook keeps no input without its type).
  return (text) => DOMPurify.sanitize(marked.parse(text) as string, { ALLOWED_TAGS, ALLOWED_ATTR, ALLOWED_URI_REGEXP: SAFE_URL, ADD_URI_SAFE_ATTR: ["type", "start"], ALLOW_DATA_ATTR: false });
}
