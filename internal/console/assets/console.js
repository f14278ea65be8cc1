// The console's script: uploads through tus (tus-js-client, loaded before this file), one-time
// links, and the live state of a session's links. Plain JavaScript, no build step. Every call
// of the console's JSON API carries the session's CSRF token; the cookie is HttpOnly.
(function () {
  'use strict';

  var body = document.body;
  var base = body.dataset.base;
  var meta = document.querySelector('meta[name="fileshare-csrf"]');
  var csrf = meta ? meta.content : '';
  var pollEvery = 2500;

  // A console API call; resolves with the decoded answer (null for 204). A 401 means the
  // session ended: back to the sign-in page.
  function api(method, path, data) {
    var init = { method: method, credentials: 'same-origin', headers: { 'X-Fileshare-Csrf': csrf } };
    if (data !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(data);
    }
    return fetch(base + '/api' + path, init).then(function (r) {
      if (r.status === 401) {
        window.location.assign(base + '/signin');
        throw new Error('signed out');
      }
      if (r.status === 204) return null;
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.message || ('error ' + r.status));
        return j;
      });
    });
  }

  // el builds an element: el('p', {class: 'x'}, 'text', child…).
  function el(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') e.textContent = v;
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    });
    var add = function (c) {
      if (c === null || c === undefined) return;
      if (Array.isArray(c)) c.forEach(add);
      else e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    };
    for (var i = 2; i < arguments.length; i++) add(arguments[i]);
    return e;
  }

  function humanSize(n) {
    if (n === null || n === undefined) return '';
    if (n < 1000) return n + ' B';
    var units = 'kMGTPE', i = -1;
    do { n /= 1000; i++; } while (n >= 1000 && i < units.length - 1);
    return n.toFixed(1) + ' ' + units[i] + 'B';
  }

  function when(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
  }

  var live = document.querySelector('[data-announce]');
  function announce(msg) {
    if (live) live.textContent = msg;
  }

  // copyButton copies text; where the clipboard API is missing (a page not served over
  // HTTPS), it selects the field so that the person can copy it.
  function copyButton(label, text, field) {
    var b = el('button', { type: 'button', class: 'secondary', text: label });
    b.addEventListener('click', function () {
      var done = function () { b.textContent = 'Copied'; setTimeout(function () { b.textContent = label; }, 2000); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { if (field) field.select(); });
      } else if (field) {
        field.select();
        try { if (document.execCommand('copy')) done(); } catch (e) { /* selected: the person copies */ }
      }
    });
    return b;
  }

  function urlField(value, label) {
    return el('input', { type: 'text', class: 'url', readonly: true, value: value, 'aria-label': label });
  }

  // Drag and drop, and the file picker, of a section.
  function acceptFiles(section, onFiles) {
    var drop = section.querySelector('[data-drop]');
    var picker = section.querySelector('[data-picker]');
    picker.addEventListener('change', function () {
      onFiles(Array.prototype.slice.call(picker.files));
      picker.value = '';
    });
    ['dragenter', 'dragover'].forEach(function (t) {
      drop.addEventListener(t, function (ev) { ev.preventDefault(); drop.classList.add('over'); });
    });
    ['dragleave', 'drop'].forEach(function (t) {
      drop.addEventListener(t, function () { drop.classList.remove('over'); });
    });
    drop.addEventListener('drop', function (ev) {
      ev.preventDefault();
      if (ev.dataTransfer && ev.dataTransfer.files.length) onFiles(Array.prototype.slice.call(ev.dataTransfer.files));
    });
  }

  // upload sends one file through tus, into a list item with a progress bar and a status that
  // screen readers hear in steps; a cut connection is retried from where the service is.
  // Only a simple upload resumes one that this browser left unfinished (after a reload, or a
  // laptop that slept): a file entry's upload is tied to its entry.
  function upload(list, file, metadata, resumable, onSuccess) {
    var bar = el('progress', { max: file.size || 1, value: 0, 'aria-label': 'Upload of ' + file.name });
    var status = el('span', { class: 'status', role: 'status', text: 'Starting…' });
    var item = el('li', { 'data-upload': file.name }, el('div', { class: 'name', text: file.name + ' (' + humanSize(file.size) + ')' }), bar, status);
    list.appendChild(item);
    var lastStep = -1;
    var up = new tus.Upload(file, {
      endpoint: base + '/tus',
      headers: { 'X-Fileshare-Csrf': csrf },
      metadata: metadata,
      retryDelays: [0, 1000, 2000, 5000, 10000, 20000, 30000],
      storeFingerprintForResuming: resumable,
      removeFingerprintOnSuccess: true,
      onProgress: function (sent, total) {
        bar.value = sent;
        bar.max = total || 1;
        var step = total ? Math.floor(sent * 10 / total) : 10;
        if (step !== lastStep) {
          lastStep = step;
          status.textContent = 'Uploading… ' + step * 10 + ' %';
        }
      },
      onShouldRetry: function (err, attempt, options) {
        var s = err.originalResponse ? err.originalResponse.getStatus() : 0;
        if (s === 0 || s >= 500 || s === 409 || s === 423) {
          status.textContent = 'Connection lost; resuming…';
          return true;
        }
        return false;
      },
      onError: function (err) {
        var msg = 'Upload failed';
        var r = err.originalResponse;
        if (r) {
          try { msg += ': ' + JSON.parse(r.getBody()).message; } catch (e) { msg += ' (' + r.getStatus() + ')'; }
        }
        status.textContent = msg;
        item.classList.add('failed');
      },
      onSuccess: function (payload) {
        bar.value = bar.max;
        status.textContent = 'Uploaded';
        onSuccess(item, payload.lastResponse);
      }
    });
    if (!resumable) {
      up.start();
      return;
    }
    up.findPreviousUploads().then(function (previous) {
      if (previous.length) up.resumeFromPreviousUpload(previous[0]);
      up.start();
    });
  }

  function refreshUsage(u) {
    var text = document.querySelector('[data-usage-text]');
    if (!text || !u) return;
    text.textContent = u.limit ? (u.used + ' of ' + u.limit + ' used') : (u.used + ' used (no limit)');
    var bar = document.querySelector('[data-usage-bar]');
    if (bar) bar.value = u.percent;
  }

  // The home page: simple uploads with a TTL, and new sessions.
  function home() {
    var section = document.querySelector('[data-drop]').closest('section');
    var list = section.querySelector('[data-uploads]');
    var ttl = document.getElementById('upload-ttl');
    acceptFiles(section, function (files) {
      files.forEach(function (f) {
        upload(list, f, { filename: f.name, filetype: f.type || 'application/octet-stream', ttl: ttl.value }, true, function (item, resp) {
          var link = resp.getHeader('Fileshare-Upload-Url');
          var field = urlField(link, 'Link to ' + f.name);
          item.appendChild(el('div', { class: 'row' }, field, copyButton('Copy link', link, field)));
          api('GET', '/usage').then(refreshUsage, function () {});
        });
      });
    });
    var form = document.getElementById('new-session');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var sel = document.getElementById('session-ttl');
      api('POST', '/sessions', { ttl: Number(sel.value) }).then(function (s) {
        window.location.assign(base + '/sessions/' + s.id);
      }, function (err) { alert(err.message); });
    });
  }

  // The session page: files uploaded into the session, links made per recipient, and every
  // link's state polled every few seconds.
  function session() {
    var card = document.querySelector('[data-session]');
    var sid = card.dataset.session;
    var filesBox = document.querySelector('[data-files]');
    var fileViews = {};
    var states = {};

    card.querySelector('[data-delete-session]').addEventListener('click', function () {
      if (!window.confirm('Delete this session with all its files and links?')) return;
      api('DELETE', '/sessions/' + sid).then(function () { window.location.assign(base + '/'); }, function (err) { alert(err.message); });
    });

    var addSection = document.querySelector('[data-drop]').closest('section');
    var uploads = addSection.querySelector('[data-uploads]');
    acceptFiles(addSection, function (files) {
      files.forEach(function (f) {
        api('POST', '/sessions/' + sid + '/files', { name: f.name, size: f.size, contentType: f.type || null }).then(function (entry) {
          upload(uploads, f, { sessionId: sid, fileId: entry.id, filename: f.name, filetype: f.type || 'application/octet-stream' }, false, function () { poll(); });
        }, function (err) {
          uploads.appendChild(el('li', {}, el('div', { class: 'name', text: f.name }), el('span', { class: 'status error', role: 'status', text: 'Not added: ' + err.message })));
        });
      });
    });

    function recipientRow(n) {
      var id = 'r' + Math.random().toString(36).slice(2);
      return el('div', { class: 'row recipient' },
        el('label', { for: id + 'l', text: 'Recipient ' + n }),
        el('input', { id: id + 'l', type: 'text', maxlength: 100, placeholder: 'for Bob', 'data-label': true }),
        el('input', { id: id + 'p', type: 'checkbox', 'data-pin': true }),
        el('label', { for: id + 'p', text: 'PIN' }));
    }

    function fileView(f) {
      var v = { el: null, state: null, links: {}, tbody: null, made: null };
      var rows = el('div', { class: 'recipients' }, recipientRow(1));
      var made = el('ul', { class: 'links-made', 'aria-label': 'New links of ' + f.name });
      var form = el('form', { class: 'make-links', 'aria-label': 'New links of ' + f.name },
        rows,
        el('div', { class: 'row' },
          el('button', { type: 'button', class: 'secondary', text: 'Add recipient', onclick: function () {
            var r = recipientRow(rows.children.length + 1);
            rows.appendChild(r);
            r.querySelector('input').focus();
          } }),
          el('button', { type: 'submit', text: 'Create links' })));
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var want = Array.prototype.map.call(rows.children, function (r) {
          return { label: r.querySelector('[data-label]').value, pin: r.querySelector('[data-pin]').checked };
        });
        api('POST', '/sessions/' + sid + '/files/' + f.id + '/links', { links: want }).then(function (links) {
          links.forEach(function (l) { made.appendChild(newLink(f, l)); });
          rows.textContent = '';
          rows.appendChild(recipientRow(1));
          announce(links.length + (links.length === 1 ? ' link' : ' links') + ' created for ' + f.name);
          made.querySelector('input').focus();
          poll();
        }, function (err) { alert(err.message); });
      });
      v.tbody = el('tbody');
      v.state = el('span', { class: 'status' });
      v.linksBox = el('div', { hidden: true },
        el('h4', { text: 'Links' }),
        el('table', { class: 'links' },
          el('thead', {}, el('tr', {}, ['For', 'State', 'Created', 'Viewed', 'Downloaded', 'Expires'].map(function (h) { return el('th', { scope: 'col', text: h }); }),
            el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: 'Actions' })))),
          v.tbody));
      v.form = form;
      v.el = el('article', { class: 'card file', 'data-file': f.id },
        el('header', {},
          el('h3', { text: f.name }),
          v.state,
          el('button', { type: 'button', class: 'danger', text: 'Delete file', 'aria-label': 'Delete file ' + f.name, onclick: function () {
            if (!window.confirm('Delete ' + f.name + ' and its links?')) return;
            api('DELETE', '/sessions/' + sid + '/files/' + f.id).then(poll, function (err) { alert(err.message); });
          } })),
        form, made, v.linksBox);
      return v;
    }

    // newLink shows a link just made: the URL and PIN (this once), copy buttons and a QR code.
    function newLink(f, l) {
      var who = l.label || f.name;
      var field = urlField(l.url, 'Link ' + who);
      var qr = el('img', { class: 'qr', src: l.qr, alt: 'QR code of the link ' + who, hidden: true });
      var qrButton = el('button', { type: 'button', class: 'secondary', text: 'Show QR code', 'aria-expanded': 'false' });
      qrButton.addEventListener('click', function () {
        qr.hidden = !qr.hidden;
        qrButton.setAttribute('aria-expanded', String(!qr.hidden));
        qrButton.textContent = qr.hidden ? 'Show QR code' : 'Hide QR code';
      });
      var item = el('li', { 'data-new-link': l.ref },
        el('div', { class: 'name', text: (l.label ? l.label + ': ' : '') + 'shown only now' }),
        el('div', { class: 'row' }, field, copyButton('Copy link', l.url, field), qrButton));
      if (l.pin) {
        var pin = el('input', { type: 'text', class: 'pin', readonly: true, value: l.pin, size: 8, 'aria-label': 'PIN ' + who, 'data-pin-value': true });
        item.appendChild(el('div', { class: 'row' }, el('span', { text: 'PIN' }), pin, copyButton('Copy PIN', l.pin, pin)));
      }
      item.appendChild(qr);
      return item;
    }

    function cell(label, text, cls) {
      return el('td', { 'data-label': label, class: cls, text: text });
    }

    function linkRow(f, l) {
      var tr = el('tr', { 'data-link': l.ref });
      tr.update = function (l) {
        var who = l.label || '—';
        var downloaded = l.deliveredAt ? when(l.deliveredAt) : (l.consumedAt ? 'started ' + when(l.consumedAt) : '—');
        tr.textContent = '';
        tr.appendChild(cell('For', who + (l.pin ? ' (PIN)' : '')));
        tr.appendChild(cell('State', l.state, 'state state-' + l.state));
        tr.appendChild(cell('Created', when(l.createdAt)));
        tr.appendChild(cell('Viewed', when(l.viewedAt)));
        tr.appendChild(cell('Downloaded', downloaded + (l.consumerAddress ? ' from ' + l.consumerAddress : '')));
        tr.appendChild(cell('Expires', when(l.expiresAt)));
        var actions = el('td');
        if (l.state === 'unused' || l.state === 'viewed') {
          actions.appendChild(el('button', { type: 'button', class: 'danger', text: 'Revoke', 'aria-label': 'Revoke the link ' + who, onclick: function () {
            api('DELETE', '/sessions/' + sid + '/files/' + f.id + '/links/' + l.ref).then(poll, function (err) { alert(err.message); });
          } }));
        }
        tr.appendChild(actions);
      };
      tr.update(l);
      return tr;
    }

    function render(st) {
      var seen = {};
      var empty = filesBox.querySelector('[data-files-empty]');
      if (empty) empty.hidden = st.files.length > 0;
      st.files.forEach(function (f) {
        seen[f.id] = true;
        var v = fileViews[f.id];
        if (!v) {
          v = fileViews[f.id] = fileView(f);
          filesBox.appendChild(v.el);
        }
        v.state.textContent = humanSize(f.size) + ' · ' + (f.state === 'stored' ? 'uploaded' : 'waiting for its content');
        v.form.hidden = f.state !== 'stored';
        v.linksBox.hidden = f.links.length === 0;
        var rows = {};
        f.links.forEach(function (l) {
          rows[l.ref] = true;
          var key = f.id + '/' + l.ref;
          var tr = v.links[l.ref];
          if (!tr) {
            tr = v.links[l.ref] = linkRow(f, l);
            v.tbody.appendChild(tr);
          } else if (JSON.stringify(l) !== tr.dataset.json) {
            // Rebuilt only when it changed, so that focus on its button stays otherwise.
            tr.update(l);
          }
          tr.dataset.json = JSON.stringify(l);
          if (states[key] && states[key] !== l.state) announce('Link ' + (l.label || 'of ' + f.name) + ': ' + l.state);
          states[key] = l.state;
        });
        Object.keys(v.links).forEach(function (ref) {
          if (!rows[ref]) { v.links[ref].remove(); delete v.links[ref]; }
        });
      });
      Object.keys(fileViews).forEach(function (id) {
        if (!seen[id]) { fileViews[id].el.remove(); delete fileViews[id]; }
      });
      refreshUsage(st.usage);
    }

    var timer = null;
    function poll() {
      clearTimeout(timer);
      return api('GET', '/sessions/' + sid).then(function (st) {
        render(st);
        timer = setTimeout(poll, pollEvery);
      }).catch(function (err) {
        announce('Could not update: ' + err.message);
        timer = setTimeout(poll, pollEvery * 2);
      });
    }
    poll();
  }

  // Signing out forgets this browser's unfinished uploads: their URLs are capabilities of the
  // user who signed out.
  var signOut = document.querySelector('form[action$="/signout"]');
  if (signOut) {
    signOut.addEventListener('submit', function () {
      Object.keys(window.localStorage).forEach(function (k) {
        if (k.indexOf('tus::') === 0) window.localStorage.removeItem(k);
      });
    });
  }

  if (body.dataset.page === 'home') home();
  if (body.dataset.page === 'session') session();
}());
