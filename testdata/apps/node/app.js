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

const redisClient = createClient({ url: redisURL })
redisClient.on('error', (err) => console.error('redis client error:', err))

const app = express()
app.disable('x-powered-by')

app.use(
  session({
    store: new RedisStore({ client: redisClient }), // prefix "sess:" (the default)
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
// save explicitly, and only then redirect.
function login(req, res, next) {
  const csrf = req.session.csrf
  req.session.regenerate((err) => {
    if (err) return next(err)
    if (csrf) req.session.csrf = csrf
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
