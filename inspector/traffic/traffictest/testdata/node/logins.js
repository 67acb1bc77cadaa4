// Many users logging in at once on a stock express-session + connect-redis setup, for
// sessionscope's concurrency tests. Each login regenerates the session (fixation
// defence) and rotates the CSRF secret, as csrf libraries do, so the only data an old
// and a new session share is what the test put in the cart.
//
// Environment: PORT (required), REDIS_URL (default redis://127.0.0.1:6379/0),
// SESSION_SECRET (default: a fixed test secret). Prints "listening" on stdout once
// both the Redis client and the HTTP server are ready.
//
// Routes:
//   GET  /?cart=X    anonymous page: a random csrfSecret, and cart = X when given
//   POST /login      form user=U: regenerate (DEL old, SET new EX), a new csrfSecret,
//                    the old cart carried over, userId = U, explicit save, 200
//   GET  /dashboard  reads the session, 200
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
app.set('trust proxy', 'loopback')

// The app listens on 127.0.0.1 only. Browsers count loopback http as a secure context,
// where Secure cookies are set and sent, so the cookie is as a production one would be;
// express-session only sets a Secure cookie on a request it believes secure.
app.use((req, res, next) => {
  Object.defineProperty(req, 'secure', { value: true })
  next()
})

app.use(
  session({
    store: new RedisStore({ client: redisClient }), // prefix "sess:" (the default)
    name: 'connect.sid',
    secret,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: 24 * 60 * 60 * 1000 },
  }),
)

function newCSRFSecret() {
  return crypto.randomBytes(18).toString('base64url')
}

app.get('/', (req, res) => {
  if (!req.session.csrfSecret) {
    req.session.csrfSecret = newCSRFSecret()
  }
  if (typeof req.query.cart === 'string' && req.query.cart !== '') {
    req.session.cart = req.query.cart
  }
  res.type('text/plain').send('anonymous page\n')
})

app.post('/login', express.urlencoded({ extended: false }), (req, res, next) => {
  const user = req.body && typeof req.body.user === 'string' ? req.body.user : ''
  if (user === '') {
    return res.status(400).type('text/plain').send('user is required\n')
  }
  const cart = req.session.cart
  req.session.regenerate((err) => {
    if (err) return next(err)
    req.session.csrfSecret = newCSRFSecret()
    if (cart !== undefined) req.session.cart = cart
    req.session.userId = user
    req.session.save((err) => {
      if (err) return next(err)
      res.type('text/plain').send('logged in as ' + user + '\n')
    })
  })
})

app.get('/dashboard', (req, res) => {
  const who = req.session.userId ? 'user ' + req.session.userId : 'anonymous'
  res.type('text/plain').send('dashboard of ' + who + '\n')
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
