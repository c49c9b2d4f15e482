/*
 * The touchpoint tracking snippet (issue 3). Websites embed it with
 *
 *   <script async src="https://HOST/t.js" data-site="SITE_KEY"></script>
 *   <script>window.tp=window.tp||function(){(tp.q=tp.q||[]).push(arguments)}</script>
 *
 * and call tp('event', NAME, {props}), tp('identify', USER_ID, {traits}), tp('pageview'),
 * tp('consent', true|false). The POST body it sends to API/collect is the server's contract
 * (tracker/ingest/schemas.py, BatchSchema): keep the keys and the length limits in step.
 *
 * Rule one: never throw into the host page. Every entry point (tp, listeners, timers) runs
 * inside safe(); an ignored call says why with console.warn('[tp] …').
 */
(function (w, d) {
  var VERSION = '__VERSION__';
  var IDLE = 18e5; // a session ends after 30 minutes without a touchpoint
  var FILES = /\.(pdf|zip|rar|7z|gz|tgz|docx?|xlsx?|pptx?|odt|ods|csv|txt|rtf|dmg|exe|msi|pkg|deb|apk|iso|mp3|wav|mp4|mov|avi|epub)$/i;
  var nav = navigator;

  function warn(reason) {
    try { console.warn('[tp] ' + reason); } catch (e) {}
  }

  function safe(f) {
    return function (a, b, c) {
      try { return f(a, b, c); } catch (e) { warn('error: ' + e); }
    };
  }

  safe(function () {
    // A second copy of the script on the page would count everything twice.
    if (w._tp) return warn('loaded twice; this copy does nothing');
    w._tp = 1;

    var script = d.currentScript || d.querySelector('script[data-site]');
    // Every option is read here, through one helper.
    var attr = function (name) { return script && script.getAttribute('data-' + name); };
    var site = attr('site');
    var cookieless = attr('cookieless') == 'true';
    var needConsent = attr('consent') == 'required';
    var off = !site ? 'missing data-site' :
      attr('respect-dnt') != 'false' && (nav.doNotTrack == '1' || nav.globalPrivacyControl) ?
        'Do Not Track / Global Privacy Control is on' : '';
    var queue = [];
    var memory = {};
    var api, timer, consent, last, uid;

    // Storage: localStorage, else a first-party cookie, else this page's memory.
    // Cookieless mode keeps everything in memory: no visitor id, a session per page load.
    function get(key) {
      var value;
      if (!cookieless) {
        try { value = localStorage.getItem(key); } catch (e) {}
        try { value = value || decodeURIComponent((d.cookie.match('(?:^|; )' + key + '=([^;]*)') || [])[1] || ''); } catch (e) {}
      }
      return value || memory[key];
    }

    function set(key, value) {
      memory[key] = value;
      if (!cookieless) {
        try { localStorage.setItem(key, value); } catch (e) {
          try { d.cookie = key + '=' + encodeURIComponent(value) + ';path=/;max-age=31536000;samesite=lax'; } catch (e) {}
        }
      }
      return value;
    }

    function uuid() {
      return w.crypto && crypto.randomUUID ? crypto.randomUUID() :
        (Math.random() + '' + Math.random()).replace(/0\./g, '') + Date.now();
    }

    // Properties and traits: own keys, scalar values, within the server's limits. Getters that
    // throw, nested objects (so cycles too), functions and the like are dropped, with a warning.
    function clean(object) {
      var result = {}, n = 0, dropped = 0;
      if (object && typeof object == 'object') {
        Object.keys(object).forEach(function (key) {
          try {
            var value = object[key], type = typeof value;
            if (n < 50 && (type == 'string' || type == 'boolean' || type == 'number' && isFinite(value))) {
              result[key.slice(0, 64)] = type == 'string' ? value.slice(0, 500) : value;
              return n++;
            }
          } catch (e) {}
          dropped++;
        });
      }
      if (dropped) warn('dropped ' + dropped + ' properties (not a string, number or boolean)');
      return result;
    }

    var flush = safe(function () {
      timer = 0;
      if (!queue.length || needConsent && consent !== true) return;
      var now = Date.now();
      var stored = (get('_tp_s') || '').split('.');
      var sid = now - stored[1] < IDLE ? stored[0] : uuid();
      var body = { site: site, v: VERSION, events: queue };
      set('_tp_s', sid + '.' + now);
      if (!cookieless) body.vid = get('_tp_v') || set('_tp_v', uuid());
      if (uid) set('_tp_u', uid);
      queue.forEach(function (event) { event.sid = sid; });
      queue = [];
      body = JSON.stringify(body);
      // text/plain (a string body) is a "simple" request: no CORS preflight.
      nav.sendBeacon && nav.sendBeacon(api + '/collect', body) ||
        fetch(api + '/collect', { method: 'POST', body: body, keepalive: true, credentials: 'omit' })
          .catch(function () {});
    });

    function track(type, name, extra) {
      if (consent === false) return warn('ignored ' + type + ': consent refused');
      queue.push(Object.assign({
        type: type,
        name: name.slice(0, 300),
        url: location.href.slice(0, 2000),
        title: d.title.slice(0, 300),
        screen: screen.width + 'x' + screen.height,
        ts: Date.now(),
        eid: uuid()
      }, uid ? { uid: uid } : {}, extra));
      // Touchpoints of the same tick go in one request.
      timer = timer || setTimeout(flush, 0);
    }

    function pageview() {
      var url = location.href;
      track('pageview', '', { ref: (last && last != url ? last : d.referrer).slice(0, 2000) });
      // After a refusal nothing counts as seen, so consent given later counts this page.
      last = consent === false ? '' : url;
    }

    var navigated = safe(function () {
      if (location.href != last) pageview();
    });

    var click = safe(function (event) {
      var link = event.target.closest && event.target.closest('a');
      var href = link && link.href;
      if (typeof href != 'string' || event.type == 'auxclick' && event.button != 1) return;
      var url = new URL(href);
      var type = !/^https?:$/.test(url.protocol) ? '' :
        FILES.test(url.pathname) || link.hasAttribute('download') ? 'download' :
          url.host != location.host ? 'outbound' : '';
      // Queued and sent at once, by beacon: the navigation is never held up.
      if (type) track(type, href, { props: { url: href.slice(0, 500) } }), flush();
    });

    var commands = {
      event: function (name, props) {
        if (typeof name != 'string' || !name) return warn('ignored event: the name must be a non-empty string');
        track('event', name, { props: clean(props) });
      },
      identify: function (id, traits) {
        if (typeof id == 'number') id += '';
        if (typeof id != 'string' || !id || id.length > 200) return warn('ignored identify: the user id must be a string of 1-200 characters');
        uid = id;
        track('identify', '', { traits: clean(traits) });
      },
      pageview: pageview,
      consent: function (given) {
        if (typeof given != 'boolean') return warn('ignored consent: expected true or false');
        if (!given) {
          if (queue.length) warn('consent refused: dropped ' + queue.length + ' touchpoints');
          queue = [];
          last = '';
        }
        consent = given;
        if (given && !last) pageview();
        flush();
      }
    };

    var tp = safe(function (command, a, b) {
      if (off) return warn('ignored ' + command + ': ' + off);
      if (!commands.hasOwnProperty(command)) return warn('ignored: unknown command ' + command);
      commands[command](a, b);
    });

    var early = (w.tp && w.tp.q) || [];
    w.tp = tp;
    if (off) return warn(off + '; nothing will be sent');

    api = (attr('api') || new URL(script.src, location.href).origin).replace(/\/+$/, '');

    uid = get('_tp_u');
    pageview();
    [].forEach.call(early, function (args) { tp.apply(0, args); });

    if (attr('spa') != 'false') {
      ['pushState', 'replaceState'].forEach(function (method) {
        var original = history[method];
        history[method] = function () {
          var result = original.apply(this, arguments);
          // Later in the tick: routers set document.title after they push the URL.
          setTimeout(navigated, 0);
          return result;
        };
      });
      w.addEventListener('popstate', navigated);
      w.addEventListener('hashchange', navigated);
    }
    if (attr('outbound') != 'false') {
      d.addEventListener('click', click, true);
      d.addEventListener('auxclick', click, true);
    }
    w.addEventListener('pagehide', flush);
    d.addEventListener('visibilitychange', function () {
      if (d.visibilityState == 'hidden') flush();
    });
  })();
})(window, document);
