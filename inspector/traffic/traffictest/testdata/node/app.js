// A minimal express-session + connect-redis login flow for sessionscope's integration
// tests (internal/realapp). It is deliberately ordinary: the point is to observe what a
// stock express-session/connect-redis setup sends to Redis, not to be clever.
//
// Environment: PORT (required), REDIS_URL (default redis://127.0.0.1:6379/0),
// SESSION_SECRET (default: a fixed test secret). Prints "listening" on stdout once
// both the Redis client and the HTTP server are ready.
'use strict'

const crypto = require('node:crypto')
const express = require('express')
const session = require('express-session')
const { RedisStore } = require('connect-redis')
const { createClient } = require('redis')

const port = Number(process.env.PORT)
if (!Number.isInteger(port) || port <= 0) {
  console.error('PORT must be set to a TCP port')
  process.exit(2)
}
const redisURL = process.env.REDIS_URL || 'redis://127.0.0.1:6379/0'
const secret = process.env.SESSION_SECRET || 'sessionscope-test-secret'
// STORE_TTL (seconds) gives connect-redis a TTL of its own instead of the cookie's
// maxAge, to reproduce a cookie and a session with different lifetimes.
// (connect-redis takes the TTL from the cookie's expiry unless ttl is a function.)
const storeTTL = process.env.STORE_TTL ? () => Number(process.env.STORE_TTL) : undefined

const redisClient = createClient({ url: redisURL })
redisClient.on('error', (err) => console.error('redis client error:', err))

const app = express()
app.disable('x-powered-by')
// Behind sessionscope's proxy (or any local one), req.ip is the X-Forwarded-For client.
app.set('trust proxy', 'loopback')

app.use(
  session({
    store: new RedisStore({ client: redisClient, ttl: storeTTL }), // prefix "sess:" (the default)
    name: 'connect.sid', // the default, spelled out because the tests depend on it
    secret,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, path: '/', maxAge: 24 * 60 * 60 * 1000 },
  }),
)

// Anonymous visit: puts a CSRF token in the session so that it is saved.
app.get('/', (req, res) => {
  if (!req.session.csrf) {
    req.session.csrf = crypto.randomBytes(8).toString('hex')
  }
  res.type('text/plain').send('anonymous visit, csrf ' + req.session.csrf + '\n')
})

// Login: regenerate the session id (fixation defence), carry the CSRF token over,
// keep the form's api_token when given, save explicitly, and only then redirect.
function login(req, res, next) {
  const csrf = req.session.csrf
  const apiToken = req.body && req.body.api_token
  req.session.regenerate((err) => {
    if (err) return next(err)
    if (csrf) req.session.csrf = csrf
    if (apiToken) req.session.api_token = apiToken
    req.session.user = { id: 42 }
    req.session.save((err) => {
      if (err) return next(err)
      res.redirect(302, '/dashboard')
    })
  })
}
app.post('/login', express.urlencoded({ extended: false }), login)
app.get('/login', login)

// Dashboard: reads the session and never modifies it, so express-session only
// touches it (connect-redis: EXPIRE).
app.get('/dashboard', (req, res) => {
  if (!req.session.user) {
    return res.redirect(302, '/')
  }
  res.type('text/plain').send('hello user ' + req.session.user.id + '\n')
})

// Logout: destroy the session in the store and clear the cookie.
function logout(req, res, next) {
  req.session.destroy((err) => {
    if (err) return next(err)
    res.clearCookie('connect.sid', { path: '/' })
    res.redirect(302, '/')
  })
}
app.post('/logout', logout)
app.get('/logout', logout)

// --- Deliberately broken variants, one failure each, for the diagnosis tests. ---

// Login that redirects first and writes the session later, as a slow store or a
// write after the redirect would: the next request reads the session too early.
app.get('/login-late', (req, res) => {
  res.redirect(302, '/dashboard')
  setTimeout(() => {
    req.session.user = { id: 42 }
    req.session.save(() => {})
  }, Number(process.env.LATE_WRITE_MS || 400))
})

// Headers go out before the session exists, so express-session decides "no cookie"
// (nothing to save yet); the session written afterwards is never given to the browser.
app.get('/flushed', (req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' })
  req.session.visited = Date.now()
  res.end('headers flushed before the session was written\n')
})

// Login that remembers the client's fingerprint (binding a session to its client)...
app.get('/login-fp', (req, res, next) => {
  req.session.regenerate((err) => {
    if (err) return next(err)
    req.session.user = { id: 42 }
    req.session.fp = { ip: req.ip, ua: req.get('user-agent') || '' }
    req.session.save((err) => (err ? next(err) : res.redirect(302, '/checked')))
  })
})

// ...and a page that destroys the session when both the address and the User-Agent
// changed.
app.get('/checked', (req, res, next) => {
  if (!req.session.user) return res.redirect(302, '/')
  const fp = req.session.fp || {}
  if (fp.ip !== req.ip && fp.ua !== (req.get('user-agent') || '')) {
    return req.session.destroy((err) => {
      if (err) return next(err)
      res.clearCookie('connect.sid', { path: '/' })
      res.redirect(302, '/')
    })
  }
  res.type('text/plain').send('hello user ' + req.session.user.id + '\n')
})

// Logout that only clears the cookie and leaves the session in the store.
app.get('/logout-cookie-only', (req, res) => {
  res.clearCookie('connect.sid', { path: '/' })
  res.redirect(302, '/')
})

async function main() {
  await redisClient.connect()
  const server = app.listen(port, '127.0.0.1', (err) => {
    if (err) {
      console.error('listen:', err)
      process.exit(1)
    }
    console.log('listening on http://127.0.0.1:' + port)
  })
  const stop = () => {
    server.close()
    redisClient.quit().catch(() => {})
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err) => {
  console.error('startup failed:', err)
  process.exit(1)
})
