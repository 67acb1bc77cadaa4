// A stock fastify + @fastify/session + connect-redis login flow for sessionscope's
// integration tests: what an ordinary fastify app sends to Redis, nothing clever.
//
// Environment: PORT (required), REDIS_URL (default redis://127.0.0.1:6379/0),
// SESSION_SECRET (default: a fixed test secret of the 32 characters @fastify/session
// requires). Prints "listening" on stdout once both the Redis client and the HTTP
// server are ready.
//
// Routes:
//   GET  /?cart=N     anonymous page: keeps cart in the session
//   POST /login       form user=U&api_token=T: regenerate (DEL old, SET new), the cart
//                     carried over, userId and api_token set, 302 to /dashboard
//   GET  /dashboard   reads the session; 302 to / without a user
//   POST /logout      destroy (DEL), clear the cookie, 302 to /
'use strict'

const Fastify = require('fastify')
const { RedisStore } = require('connect-redis')
const { createClient } = require('redis')

const port = Number(process.env.PORT)
if (!Number.isInteger(port) || port <= 0) {
  console.error('PORT must be set to a TCP port')
  process.exit(2)
}
const redisURL = process.env.REDIS_URL || 'redis://127.0.0.1:6379/0'
const secret = process.env.SESSION_SECRET || 'sessionscope-test-secret-32-chars!'
const cookieName = 'sessionId' // @fastify/session's default, spelled out because the tests depend on it

const redisClient = createClient({ url: redisURL })
redisClient.on('error', (err) => console.error('redis client error:', err))

const app = Fastify()

// HTML forms post application/x-www-form-urlencoded, which fastify does not parse by
// itself; URLSearchParams is what @fastify/formbody would use too.
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
  done(null, Object.fromEntries(new URLSearchParams(body)))
})

app.register(require('@fastify/cookie'))
app.register(require('@fastify/session'), {
  store: new RedisStore({ client: redisClient }), // prefix "sess:" (the default)
  cookieName,
  secret,
  saveUninitialized: false,
  // secure "auto": Secure over HTTPS, not over the loopback http the tests use, where
  // @fastify/session would otherwise refuse to save the session at all.
  cookie: { httpOnly: true, secure: 'auto', sameSite: 'lax', path: '/', maxAge: 24 * 60 * 60 * 1000 },
})

app.get('/', async (request, reply) => {
  if (request.query.cart !== undefined) {
    request.session.set('cart', Number(request.query.cart))
  }
  reply.type('text/plain')
  return 'cart ' + JSON.stringify(request.session.get('cart') ?? null) + '\n'
})

app.post('/login', async (request, reply) => {
  const form = request.body || {}
  if (!form.user) {
    reply.code(400).type('text/plain')
    return 'user is required\n'
  }
  // A new id against session fixation: the old session is destroyed in the store,
  // the cart moves to the new one. onSend saves it once the handler returns.
  await request.session.regenerate(['cart'])
  request.session.set('userId', 42)
  if (form.api_token) {
    request.session.set('api_token', form.api_token)
  }
  return reply.redirect('/dashboard', 302)
})

app.get('/dashboard', async (request, reply) => {
  const userId = request.session.get('userId')
  if (!userId) {
    return reply.redirect('/', 302)
  }
  reply.type('text/plain')
  return 'hello user ' + userId + '\n'
})

app.post('/logout', async (request, reply) => {
  await request.session.destroy()
  reply.clearCookie(cookieName, { path: '/' })
  return reply.redirect('/', 302)
})

async function main() {
  await redisClient.connect()
  await app.listen({ port, host: '127.0.0.1' })
  console.log('listening on http://127.0.0.1:' + port)
  const stop = () => {
    app.close().finally(() => redisClient.quit().catch(() => {}))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err) => {
  console.error('startup failed:', err)
  process.exit(1)
})
