import type { Tokens } from "marked";

/**
 * The model's answers as HTML that can do nothing but show text. A model repeats what it reads (log lines, web pages,
 * files), so its text is untrusted: `marked` turns markdown into HTML with raw HTML shown as text, links kept only
 * when they are http(s) and images shown as links (the dashboard's CSP would refuse other hosts' images anyway), then
 * `DOMPurify` removes whatever else could run or load (event handlers, `javascript:` or `data:` addresses, forms,
 * frames, styles) from the result. Both are small, well-kept libraries: parsing markdown and sanitising HTML are
 * exactly the things not to write by hand. Each loads in a chunk of its own the first time an answer is shown, so
 * neither the first page nor the chat page carries them.
 */

const SAFE_URL = /^https?:\/\//i;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const ALLOWED_TAGS = ["p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "input"];
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
      link({ href, title, tokens }: Tokens.Link): string {
        const text = this.parser.parseInline(tokens);
        if (!SAFE_URL.test(href)) return text;
        return `<a href="${escapeHtml(href)}"${title ? ` title="${escapeHtml(title)}"` : ""}>${text}</a>`;
      },
      image({ href, text }: Tokens.Image): string {
        const label = `image: ${text || "untitled"}`;
        return SAFE_URL.test(href) ? `<a href="${escapeHtml(href)}">[${escapeHtml(label)}]</a>` : `[${escapeHtml(label)}]`;
      },
    },
  });
  // Links leave the dashboard in a new tab that cannot reach back into it (no opener, no referrer).
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
    // Task-list checkboxes are the only inputs markdown makes; they show a state, never take one.
    if (node.tagName === "INPUT" && node.getAttribute("type") !== "checkbox") node.remove();
    else if (node.tagName === "INPUT") node.setAttribute("disabled", "");
  });
  return (text) => DOMPurify.sanitize(marked.parse(text) as string, { ALLOWED_TAGS, ALLOWED_ATTR, ALLOWED_URI_REGEXP: SAFE_URL, ALLOW_DATA_ATTR: false });
}
