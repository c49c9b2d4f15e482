/*
 * The touchpoint tracking snippet (issue 3). Websites embed it with
 *
 *   <script async src="https://HOST/t.js" data-site="SITE_KEY"></script>
 *   <script>window.tp=window.tp||function(){(tp.q=tp.q||[]).push(arguments)}</script>
 *
 * and call tp('event', NAME, {props}), tp('identify', USER_ID, {traits}), tp('pageview'),
 * tp('consent', true|false). The body it POSTs to API/collect is the server's contract
 * (BatchSchema in tracker/ingest/schemas.py): keep the keys and the length limits in step.
 *
 * Rule one: never throw into the host page. Every entry point (the script, tp, listeners,
 * timers) catches what it throws; an ignored call says why with console.warn('[tp] …').
 * The size budget is 1,500 bytes gzipped (js/check_size.py): the code is written for gzip.
 */
(function (w, d, nav, location) {
  var FILES = /\.(pdf|zip|docx?|xlsx?|pptx?|csv|dmg|exe|mp[34])$/i;

  // Parts, not one string: a Symbol given as a command cannot be concatenated.
  function warn(reason, command) {
    try { console.warn('[tp]', command || '', reason); } catch (e) {}
  }

  try {
    // A second copy of the script on the page would count everything twice.
    if (w._tp) return warn('loaded twice');
    w._tp = 1;

    var script = d.currentScript;
    // Every option is read through this one helper over data- attributes.
    var attr = function (name) { return script && script.getAttribute('data-' + name); };
    var site = attr('site');
    var cookieless = attr('cookieless') == 'true';
    var needConsent = attr('consent') == 'required';
    var off = !site ? 'missing data-site' :
      attr('respect-dnt') != 'false' && (nav.doNotTrack == '1' || nav.globalPrivacyControl) ?
        'Do Not Track' : '';
    var queue = [];
    var memory = {};
    var early = (w.tp && w.tp.q) || [];
    var api, timer, consent, last, uid;

    // Visitor id (v), session id (s) and its last activity (t), user id (u): one JSON record in
    // localStorage, else in this page's memory. No cookie fallback: where localStorage throws
    // (storage blocked, sandboxed frames) browsers block cookies too. Cookieless mode keeps to
    // memory: no visitor id is sent and a session lasts one page load.
    function load() {
      try { return JSON.parse(cookieless ? 0 : localStorage._tp) || memory; } catch (e) { return memory; }
    }

    // 128 random bits. Not crypto.randomUUID: it exists in secure contexts (https) only.
    function uuid() {
      return crypto.getRandomValues(new Uint32Array(4)).join('-');
    }

    // Properties and traits: strings, finite numbers, booleans; at most 50 (the server's limits,
    // like the string lengths flush truncates to). Getters that throw, nested objects (so cycles
    // too), functions and the like are dropped, with one warning.
    function clean(object) {
      var result = {}, n = 0, dropped = 0;
      for (var key in object) {
        try {
          var value = object[key];
          // isFinite() throws for a Symbol or a BigInt: dropped too.
          if (key && n < 50 && (/^(string|boolean)$/.test(typeof value) || isFinite(value) && value === +value)) {
            result[key.slice(0, 64)] = value;
            n++;
            continue;
          }
        } catch (e) {}
        dropped++;
      }
      if (dropped) warn('properties dropped: ' + dropped);
      return result;
    }

    function flush() {
      timer = 0;
      if (queue[0] && (!needConsent || consent)) try {
        var now = Date.now();
        var state = load();
        // A session ends after 30 minutes without a touchpoint.
        if (!(now - state.t < 18e5)) state.s = uuid();
        state.t = now;
        if (!cookieless) state.v = state.v || uuid();
        state.u = uid = uid || state.u;
        memory = state;
        try { if (!cookieless) localStorage._tp = JSON.stringify(state); } catch (e) {}
        queue.map(function (event) { event.sid = state.s; });
        // JSON leaves out undefined: no vid in cookieless mode.
        var body = { site: site, vid: state.v, v: '__VERSION__', events: queue };
        queue = [];
        // The server's length limits; a string body is text/plain, a request without preflight.
        body = JSON.stringify(body, function (key, value) {
          return typeof value == 'string' ? value.slice(0, this.eid && /^(url|ref)$/.test(key) ? 2000 : 200) : value;
        });
        nav.sendBeacon && nav.sendBeacon(api, body) ||
          fetch(api, { method: 'POST', body: body, keepalive: true }).catch(warn);
      } catch (e) {
        warn(e);
      }
    }

    function track(type, name, extra) {
      if (consent === false) throw 'consent refused';
      extra.type = type;
      extra.name = name;
      extra.url = location.href;
      extra.title = d.title;
      extra.screen = screen.width + 'x' + screen.height;
      extra.ts = Date.now();
      extra.eid = uuid();
      extra.uid = uid;
      queue.push(extra);
      // Touchpoints of the same tick go in one request.
      timer = timer || setTimeout(flush);
    }

    function pageview() {
      track('pageview', '', { ref: last || d.referrer });
      // Not reached when consent is refused: no page counts as seen, so consent given later
      // counts this one.
      last = location.href;
    }

    // Through tp(): it catches, and says why a page view is ignored.
    function navigated() {
      if (location.href != last) tp('pageview');
    }

    // A click outside a link (closest() gives null) is no reason for a warning.
    function click(event) {
      try {
        // An <a> has the parts of its URL as properties (an SVG <a> has none: no http).
        var link = event.target.closest('a[href]');
        var href = link.href;
        var type = !/^http/.test(link.protocol) || event.button > 1 ? 0 :
          FILES.test(link.pathname) || link.hasAttribute('download') ? 'download' :
            link.host != location.host && 'outbound';
        // Queued and sent at once, by beacon: the navigation is never held up.
        if (type) track(type, href, { props: { url: href } }), flush();
      } catch (e) {}
    }

    function tp(command, a, b) {
      try {
        if (off) throw off;
        if (command == 'event' && a && typeof a == 'string') {
          track(command, a, { props: clean(b) });
        } else if (command == 'identify' && /^(string|number)$/.test(typeof a) && (a += '')) {
          uid = a;
          track(command, '', { traits: clean(b) });
        } else if (command == 'pageview') {
          pageview();
        } else if (command == 'consent' && a === !!a) {
          // Refused: drop what waits; given: send it (and this page, if a refusal dropped it).
          if (!a) queue = [], last = '';
          consent = a;
          if (a && !last) pageview();
          flush();
        } else {
          throw 'unknown command or bad arguments';
        }
      } catch (reason) {
        warn('ignored: ' + reason, command);
      }
    }

    w.tp = tp;
    if (off) return warn(off);

    api = (attr('api') || new URL(script.src).origin) + '/collect';
    uid = load().u;
    pageview();

    function on(target, type, listener) {
      target.addEventListener(type, listener, true);
    }

    if (attr('spa') != 'false') {
      ['pushState', 'replaceState'].map(function (method) {
        var original = history[method];
        history[method] = function () {
          // Later in the tick: routers set document.title after they push the URL.
          setTimeout(navigated);
          return original.apply(this, arguments);
        };
      });
      on(w, 'popstate', navigated);
      on(w, 'hashchange', navigated);
    }
    if (attr('outbound') != 'false') {
      on(d, 'click', click);
      on(d, 'auxclick', click);
    }
    // Touchpoints of the last tick before the page goes (the batch timer may not get to run).
    on(w, 'pagehide', flush);
    early.map(function (args) { tp(...args); });
  } catch (e) {
    warn(e);
  }
})(window, document, navigator, location);
