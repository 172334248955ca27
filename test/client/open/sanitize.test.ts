import { describe, expect, it } from 'vitest';
import { sanitizeHtml } from '../../../client/open/sanitize';

/** HTML mail sanitizing: scripts never survive; remote loads are blocked and counted unless allowed. */
describe('sanitizeHtml', () => {
  const blocked = (html: string): ReturnType<typeof sanitizeHtml> => sanitizeHtml(html, { loadRemoteContent: false });

  it('removes scripts, event handlers, forms, frames and javascript: URLs', () => {
    const out = blocked(
      '<p onclick="steal()">hi</p><script>alert(1)</script><form action="https://x"><input name=p></form>' +
        '<iframe src="https://x"></iframe><a href="javascript:alert(1)">x</a><object data="https://x/a.swf"></object>',
    );
    expect(out.html).not.toMatch(/script|onclick|<form|<input|<iframe|<object|javascript:/i);
    expect(out.html).toContain('<p>hi</p>');
  });

  it('blocks one remote image and counts it, keeping the original only in an inert attribute', () => {
    const out = blocked('<p>one <img src="https://t.example/x.gif"><script>alert(1)</script></p>');
    expect(out.remoteBlocked).toBe(1);
    expect(out.html).toBe('<p>one <img data-ssmax-blocked-src="https://t.example/x.gif"></p>');
  });

  it('blocks srcset, poster, background, SVG image href and CSS url() in style attributes and <style>', () => {
    const out = blocked(
      '<style>p { background: url(https://a.example/bg.png) } @import "https://a.example/x.css";</style>' +
        '<img srcset="https://a.example/1x.png 1x, data:image/png;base64,AAAA 2x">' +
        '<video poster="http://a.example/p.jpg"></video><table background="https://a.example/t.png"></table>' +
        '<svg><image href="https://a.example/s.png"></image></svg>' +
        '<div style="background-image: url(\'https://a.example/d.png\')">x</div>',
    );
    expect(out.html).not.toMatch(/(?<!data-ssmax-blocked-(src|srcset|poster|background|href)=")https?:\/\//);
    expect(out.remoteBlocked).toBeGreaterThanOrEqual(5);
  });

  it('keeps data: and cid: images (parts of the message itself) and counts nothing', () => {
    const out = blocked('<img src="cid:logo@x"><img src="data:image/png;base64,AAAA">');
    expect(out.remoteBlocked).toBe(0);
    expect(out.html).toContain('src="cid:logo@x"');
    expect(out.html).toContain('src="data:image/png;base64,AAAA"');
  });

  it('loads remote content only when asked for this message, still without scripts', () => {
    const out = sanitizeHtml('<img src="https://t.example/x.gif"><script>alert(1)</script>', {
      loadRemoteContent: true,
    });
    expect(out.remoteBlocked).toBe(0);
    expect(out.html).toBe('<img src="https://t.example/x.gif">');
  });

  it('names exactly the remote URLs an allowed message loads (images, srcset, CSS url()); none when blocked; never an @import', () => {
    const html =
      '<p>hi</p><style>p { background: url(https://a.example/bg.png) } @import "https://a.example/x.css";</style>' +
      '<img src="https://t.example/x.gif"><img srcset="https://a.example/1x.png 1x, https://a.example/2x.png 2x">' +
      '<img src="cid:logo@x"><div style="background-image: url(\'https://a.example/d.png\')">x</div>';
    const allowed = sanitizeHtml(html, { loadRemoteContent: true });
    expect(allowed.remoteLoads.sort()).toEqual(
      ['https://a.example/1x.png', 'https://a.example/2x.png', 'https://a.example/bg.png', 'https://a.example/d.png', 'https://t.example/x.gif'].sort(),
    );
    expect(allowed.html).not.toContain('@import');
    expect(blocked(html).remoteLoads).toEqual([]);
  });

  it('opens links outside, without referrer', () => {
    expect(blocked('<a href="https://ok.example/">x</a>').html).toBe(
      '<a href="https://ok.example/" rel="noopener noreferrer" target="_blank">x</a>',
    );
  });
});
