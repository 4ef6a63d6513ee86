// Safe Markdown: everything is HTML-escaped first, so model or user text can never become
// live HTML; only the tags made here (p, br, pre, code, strong, em, a, ul, li, h3) are produced.
(function () {
  function escapeHTML(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function inline(text) {
    return text
      .replace(/`([^`]+)`/g, "<code>$1</code>")
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
      // Links only to http(s); the URL is already escaped, so it cannot close the attribute.
      .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
  }

  function render(source) {
    const parts = escapeHTML(source).split(/```/);
    let html = "";
    parts.forEach(function (part, index) {
      if (index % 2 === 1) {
        html += "<pre><code>" + part.replace(/^[\w+-]*\n/, "") + "</code></pre>";
        return;
      }
      part.split(/\n{2,}/).forEach(function (block) {
        if (!block.trim()) return;
        const lines = block.split("\n");
        if (lines.every(function (l) { return /^\s*([-*]|\d+\.)\s+/.test(l) || !l.trim(); })) {
          html += "<ul>" + lines.filter(function (l) { return l.trim(); })
            .map(function (l) { return "<li>" + inline(l.replace(/^\s*([-*]|\d+\.)\s+/, "")) + "</li>"; }).join("") + "</ul>";
        } else if (/^#{1,6}\s/.test(block)) {
          html += "<h3>" + inline(block.replace(/^#{1,6}\s+/, "")) + "</h3>";
        } else {
          html += "<p>" + lines.map(inline).join("<br>") + "</p>";
        }
      });
    });
    return html;
  }

  window.ConfabMarkdown = { render: render, escapeHTML: escapeHTML };
})();
