// A stock koa + koa-session login flow with koa-redis as the external store, for
// sessionscope's integration tests: what an ordinary koa app sends to Redis.
//
// koa-session keeps the session in the store under its external key, a bare UUID
// (the default genid, crypto.randomUUID(); koa-redis adds no prefix), as JSON with
// koa-session's own _expire and _maxAge beside the app's fields. The cookie koa.sess
// carries that key, signed with app.keys: a koa.sess.sig cookie holds the signature.
//
// Environment: PORT (required), REDIS_URL (default redis://127.0.0.1:6379/0),
// SESSION_SECRET (default: a fixed test secret). Prints "listening" on stdout once
// both the Redis client and the HTTP server are ready.
//
// Routes:
//   GET  /?cart=N     anonymous page: keeps cart in the session
//   POST /login       form user=U&api_token=T: regenerate (DEL old, SETEX new, with
//                     the cart), user and api_token set, 302 to /dashboard
//   GET  /dashboard   reads the session; 302 to / without a user
//   POST /logout      ctx.session = null: DEL, the cookies cleared, 302 to /
'use strict'

const Koa = require('koa')
const { createSession } = require('koa-session')
const redisStore = require('koa-redis')

const port = Number(process.env.PORT)
if (!Number.isInteger(port) || port <= 0) {
  console.error('PORT must be set to a TCP port')
  process.exit(2)
}
const redisURL = process.env.REDIS_URL || 'redis://127.0.0.1:6379/0'
const secret = process.env.SESSION_SECRET || 'sessionscope-test-secret'

const app = new Koa()
app.keys = [secret] // koa-session signs its cookie with these (signed: true is its default)

// koa-redis connects lazily (ioredis); the app is ready once the store is.
const store = redisStore({ url: redisURL })
store.on('error', (err) => console.error('redis client error:', err.message))

app.use(
  createSession(
    {
      key: 'koa.sess', // the default, spelled out because the tests depend on it
      maxAge: 24 * 60 * 60 * 1000,
      httpOnly: true,
      sameSite: 'lax',
      store,
    },
    app,
  ),
)

// HTML forms post application/x-www-form-urlencoded; koa has no body parser of its
// own, and the form is small.
async function readForm(ctx) {
  if (!ctx.is('application/x-www-form-urlencoded')) return {}
  const chunks = []
  let size = 0
  for await (const chunk of ctx.req) {
    size += chunk.length
    if (size > 64 * 1024) ctx.throw(413, 'form too large')
    chunks.push(chunk)
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')))
}

app.use(async (ctx) => {
  const route = ctx.method + ' ' + ctx.path
  switch (route) {
    case 'GET /': {
      if (ctx.query.cart !== undefined) {
        ctx.session.cart = Number(ctx.query.cart)
      }
      ctx.type = 'text/plain'
      ctx.body = 'cart ' + JSON.stringify(ctx.session.cart ?? null) + '\n'
      return
    }
    case 'POST /login': {
      const form = await readForm(ctx)
      if (!form.user) {
        ctx.status = 400
        ctx.type = 'text/plain'
        ctx.body = 'user is required\n'
        return
      }
      // A new external key against session fixation: koa-session destroys the old
      // one in the store and writes the session (the cart) under a new one at once;
      // the fields set after it are written when the response is committed.
      await ctx.session.regenerate()
      ctx.session.user = { id: 42, name: form.user }
      if (form.api_token) {
        ctx.session.api_token = form.api_token
      }
      ctx.redirect('/dashboard')
      return
    }
    case 'GET /dashboard': {
      const user = ctx.session.user
      if (!user) {
        ctx.redirect('/')
        return
      }
      ctx.type = 'text/plain'
      ctx.body = 'hello user ' + user.id + '\n'
      return
    }
    case 'POST /logout': {
      ctx.session = null
      ctx.redirect('/')
      return
    }
    default:
      ctx.status = 404
      ctx.type = 'text/plain'
      ctx.body = 'not found\n'
  }
})

async function main() {
  await new Promise((resolve, reject) => {
    if (store.connected) return resolve()
    store.client.once('ready', resolve)
    store.client.once('end', () => reject(new Error('redis connection ended before it was ready')))
  })
  const server = app.listen(port, '127.0.0.1', () => {
    console.log('listening on http://127.0.0.1:' + port)
  })
  const stop = () => {
    server.close()
    store.client.quit().catch(() => {})
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err) => {
  console.error('startup failed:', err)
  process.exit(1)
})
