'use strict';
// telegram-test-api 4.2.1 behind an outer express app that fixes its known gaps, so the real aiogram
// stack can run against it over HTTP (DESIGN section 9):
//   - getMe lacks `is_bot`                 -> a full bot User, id taken from the token like Telegram
//   - callbacks lack `chat_instance`       -> added to every callback_query update
//   - no secret-token header on webhooks   -> X-Telegram-Bot-Api-Secret-Token sent from setWebhook's secret
//   - unknown methods answer 500           -> Telegram's own 404 {"ok": false, "error_code": 404, ...}
//   - getUpdates ignores offset            -> offset confirms earlier updates; `timeout` long-polls
// plus: setWebhook/answerCallbackQuery/edit* answer `true` like Telegram, an edit without reply_markup
// removes the inline keyboard (as Telegram does), setMyCommands/getMyCommands/deleteMyCommands and
// getWebhookInfo and sendChatAction exist, bot messages carry `from` and a date in seconds.
// Test-only inspection routes live under /meetmatt/ (bot messages per chat, commands, webhook), and
// POST /meetmatt/block {token, chat_id} makes that bot's messages to that chat fail with 403 as for a
// user who blocked the bot.
//
// Usage: node launcher.js [--port N] [--host H]; prints "LISTENING <port>" once ready.

const http = require('http');
const express = require('express');
const axios = require('axios');
const TelegramServer = require('telegram-test-api');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const host = arg('host', '127.0.0.1');
const port = Number(arg('port', '0'));
const server = new TelegramServer({ host, port: port || 9000, storeTimeout: 3600 });
const commands = {}; // token -> scope key -> commands
const webhookFailures = [];

function botUser(token) {
  const id = Number(String(token).split(':')[0]) || 666;
  return {
    id, is_bot: true, first_name: 'Meet Matt (test)', username: 'MeetMattTestBot',
    can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false,
  };
}

function body(req) {
  return { ...(req.query || {}), ...(req.body || {}) };
}

function parseJson(value) {
  if (typeof value !== 'string') return value;
  try { return JSON.parse(value); } catch (e) { return value; }
}

// --- update shape fixes -------------------------------------------------------------------------
const originalFormat = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = function formatUpdate(update) {
  const out = originalFormat.call(TelegramServer, update);
  const query = out.callback_query;
  if (query) {
    const message = query.message || {};
    const chatId = message.chat ? message.chat.id : (query.from ? query.from.id : 0);
    query.chat_instance = query.chat_instance || String(chatId);
    if (message.chat) {
      message.message_id = message.message_id || 1;
      message.date = message.date || Math.floor(Date.now() / 1000);
    }
  }
  return out;
};

const originalAddBotMessage = server.addBotMessage.bind(server);
server.addBotMessage = function addBotMessage(rawMessage, botToken) {
  originalAddBotMessage(rawMessage, botToken);
  return messageResult(server.storage.botMessages[server.storage.botMessages.length - 1]);
};

// webhooks: send the secret token header; retry like Telegram; never crash the process
server.addUserUpdate = async function addUserUpdate(update) {
  if (!update.botToken) throw new Error('The update must name its `botToken`.');
  const webhook = this.webhooks[update.botToken];
  update.updateId = this.updateId;
  this.updateId++;
  if (!webhook) {
    this.storage.userMessages.push(update);
    this.emit('MeetMattUpdate');
    return;
  }
  const headers = { 'Content-Type': 'application/json' };
  if (webhook.secret_token) headers['X-Telegram-Bot-Api-Secret-Token'] = webhook.secret_token;
  const data = TelegramServer.formatUpdate(update);
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      await axios({ url: webhook.url, method: 'POST', data, headers, timeout: 10000,
        validateStatus: () => true }).then((resp) => {
        if (resp.status > 299) throw new Error(`HTTP ${resp.status}`);
      });
      return;
    } catch (error) {
      webhookFailures.push({ url: webhook.url, update_id: data.update_id, error: String(error), attempt });
      await new Promise((resolve) => { setTimeout(resolve, 100 * attempt); });
    }
  }
};

// the stock client routes call addUser* without awaiting; make sure a rejection cannot kill node
process.on('unhandledRejection', (error) => {
  webhookFailures.push({ error: String(error) });
});

function findBotMessage(chatId, messageId) {
  return server.storage.botMessages.find((u) => String(u.messageId) === String(messageId)
    && String(u.message.chat_id) === String(chatId));
}

// the Message Telegram answers: only real Message fields (the package echoes every request parameter,
// as strings, which aiogram rightly refuses to parse)
function messageResult(stored) {
  const m = stored.message;
  const chatId = Number(m.chat_id);
  const result = {
    message_id: stored.messageId, date: Math.floor(stored.time / 1000), from: botUser(stored.botToken),
    chat: chatId > 0 ? { id: chatId, type: 'private', first_name: 'User' }
      : { id: chatId, type: 'supergroup', title: 'Group' },
  };
  if (m.text !== undefined) result.text = m.text;
  const markup = parseJson(m.reply_markup);
  if (markup && markup.inline_keyboard) result.reply_markup = markup;
  if (stored.edited) result.edit_date = Math.floor(Date.now() / 1000);
  return result;
}

// --- outer app ------------------------------------------------------------------------------------
const app = express();
app.use(express.json({ limit: '5mb' }));
app.use(express.urlencoded({ extended: true, limit: '5mb' }));

// a user who blocked a bot: Telegram answers that bot's messages to them with 403 (POST /meetmatt/block)
const blocked = new Set();
const TO_A_CHAT = new Set(['sendMessage', 'sendPhoto', 'sendDocument', 'editMessageText',
  'editMessageReplyMarkup', 'copyMessage', 'forwardMessage']);
app.all('/bot:token/:method', (req, res, next) => {
  const b = body(req);
  if (TO_A_CHAT.has(req.params.method) && blocked.has(`${req.params.token}:${b.chat_id}`)) {
    res.status(403).json({ ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    return;
  }
  next();
});
app.post('/meetmatt/block', (req, res) => {
  blocked.add(`${req.body.token}:${req.body.chat_id}`);
  res.json({ ok: true, result: true });
});

app.all('/bot:token/getMe', (req, res) => res.json({ ok: true, result: botUser(req.params.token) }));

app.all('/bot:token/getUpdates', async (req, res) => {
  const { token } = req.params;
  const b = body(req);
  const offset = Number(b.offset || 0);
  const limit = Math.min(Number(b.limit || 100), 100);
  const timeout = Math.min(Number(b.timeout || 0), 50);
  if (offset) {
    server.storage.userMessages = server.storage.userMessages
      .filter((u) => !(u.botToken === token && u.updateId < offset));
  }
  const pending = () => server.storage.userMessages
    .filter((u) => u.botToken === token && u.updateId >= offset).slice(0, limit);
  let found = pending();
  if (!found.length && timeout > 0) {
    await new Promise((resolve) => {
      const done = () => { clearTimeout(timer); server.off('MeetMattUpdate', done); resolve(); };
      const timer = setTimeout(done, timeout * 1000);
      server.on('MeetMattUpdate', done);
      res.on('close', done); // the client gave up (req's 'close' fires once its body is read)
    });
    found = pending();
  }
  res.json({ ok: true, result: found.map((u) => TelegramServer.formatUpdate(u)) });
});

app.all('/bot:token/setWebhook', (req, res) => {
  const b = body(req);
  if (!b.url) {
    res.status(400).json({ ok: false, error_code: 400, description: 'Bad Request: bad webhook: URL is empty' });
    return;
  }
  server.setWebhook({ url: b.url, secret_token: b.secret_token, allowed_updates: parseJson(b.allowed_updates) },
    req.params.token);
  res.json({ ok: true, result: true, description: 'Webhook was set' });
});

app.all('/bot:token/deleteWebhook', (req, res) => {
  const { token } = req.params;
  server.deleteWebhook(token);
  if (String(body(req).drop_pending_updates) === 'true') {
    server.storage.userMessages = server.storage.userMessages.filter((u) => u.botToken !== token);
  }
  res.json({ ok: true, result: true, description: 'Webhook was deleted' });
});

app.all('/bot:token/getWebhookInfo', (req, res) => {
  const { token } = req.params;
  const hook = server.webhooks[token];
  const pending = server.storage.userMessages.filter((u) => u.botToken === token).length;
  res.json({ ok: true, result: { url: hook ? hook.url : '', has_custom_certificate: false,
    pending_update_count: pending } });
});

function scopeKey(b) {
  const scope = parseJson(b.scope) || { type: 'default' };
  return JSON.stringify({ type: scope.type, chat_id: scope.chat_id, user_id: scope.user_id,
    language_code: b.language_code || '' });
}

app.all('/bot:token/setMyCommands', (req, res) => {
  const b = body(req);
  commands[req.params.token] = commands[req.params.token] || {};
  commands[req.params.token][scopeKey(b)] = parseJson(b.commands) || [];
  res.json({ ok: true, result: true });
});

app.all('/bot:token/getMyCommands', (req, res) => {
  const stored = (commands[req.params.token] || {})[scopeKey(body(req))] || [];
  res.json({ ok: true, result: stored });
});

app.all('/bot:token/deleteMyCommands', (req, res) => {
  delete (commands[req.params.token] || {})[scopeKey(body(req))];
  res.json({ ok: true, result: true });
});

app.all('/bot:token/answerCallbackQuery', (req, res) => res.json({ ok: true, result: true }));
// the OpenClaw gateway shows "typing…" while its model thinks
app.all('/bot:token/sendChatAction', (req, res) => res.json({ ok: true, result: true }));

function editRoute(name, changeText) {
  app.all(`/bot:token/${name}`, (req, res) => {
    const b = body(req);
    const stored = findBotMessage(b.chat_id, b.message_id);
    if (!stored) {
      res.status(400).json({ ok: false, error_code: 400, description: 'Bad Request: message to edit not found' });
      return;
    }
    const markup = parseJson(b.reply_markup);
    const before = JSON.stringify([stored.message.text, stored.message.reply_markup]);
    if (changeText) {
      stored.message.text = b.text;
      if (b.parse_mode) stored.message.parse_mode = b.parse_mode;
    }
    stored.message.reply_markup = markup && markup.inline_keyboard ? markup : undefined;
    if (JSON.stringify([stored.message.text, stored.message.reply_markup]) === before) {
      res.status(400).json({ ok: false, error_code: 400, description:
        'Bad Request: message is not modified: specified new message content and reply markup are exactly '
        + 'the same as a current content and reply markup of the message' });
      return;
    }
    stored.edited = (stored.edited || 0) + 1;
    server.emit('EditedMessageText');
    res.json({ ok: true, result: messageResult(stored) });
  });
}
editRoute('editMessageText', true);
editRoute('editMessageReplyMarkup', false);

// --- inspection for tests ---------------------------------------------------------------------------
app.get('/meetmatt/botMessages', (req, res) => {
  const { token, chatId } = req.query;
  const result = server.storage.botMessages
    .filter((u) => u.botToken === token && (chatId === undefined || String(u.message.chat_id) === String(chatId)))
    .map((u) => ({ message_id: u.messageId, chat_id: Number(u.message.chat_id), text: u.message.text,
      reply_markup: parseJson(u.message.reply_markup) || null, edited: u.edited || 0, time: u.time }));
  res.json({ ok: true, result });
});
app.get('/meetmatt/commands', (req, res) => res.json({ ok: true, result: commands[req.query.token] || {} }));
app.get('/meetmatt/webhook', (req, res) => res.json({ ok: true, result: server.webhooks[req.query.token] || null }));
app.get('/meetmatt/webhookFailures', (req, res) => res.json({ ok: true, result: webhookFailures }));

// everything else: the package's own routes; then Telegram's answer to an unknown method
app.use(server.webServer);
app.use((req, res) => {
  res.status(404).json({ ok: false, error_code: 404, description: 'Not Found' });
});

// the package answers unknown bot methods with a 500 from its own catch-all: intercept that route
const stack = server.webServer._router.stack;
const unknown = stack.findIndex((layer) => layer.route && layer.route.path === '/bot:token/:method');
if (unknown >= 0) {
  stack[unknown].route.stack.forEach((layer) => {
    // eslint-disable-next-line no-param-reassign
    layer.handle = (req, res) => {
      res.status(404).json({ ok: false, error_code: 404,
        description: `Not Found: method ${req.params.method} is not supported by this stand-in` });
    };
  });
}

server.started = true;
const httpServer = http.createServer(app);
httpServer.keepAliveTimeout = 65000;
httpServer.listen(port, host, () => {
  const actual = httpServer.address().port;
  server.config.apiURL = `http://${host}:${actual}`;
  process.stdout.write(`LISTENING ${actual}\n`);
});

function shutdown() {
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
