// A redirect endpoint with the seed's response-splitting bug (tip 8), for sessionscope's
// golden HAR captures (internal/golden). No dependencies: node's own http module.
//
// GET /go?next=URL answers 302 with Location: <next>. Node's res.setHeader refuses
// CR/LF, so like hand-rolled servers and old frameworks it writes the response head
// itself, straight to the socket: a next of "/home%0d%0aSet-Cookie:%20sessionID=..."
// becomes a second header, and the browser stores a cookie the attacker chose.
// With SANITIZE=1 (the fixed twin) CR and LF are stripped from next first.
//
// Environment: PORT (required), SANITIZE. Prints "listening" once ready.
'use strict'

const http = require('node:http')

const port = Number(process.env.PORT)
if (!Number.isInteger(port) || port <= 0) {
  console.error('PORT must be set to a TCP port')
  process.exit(2)
}
const sanitize = process.env.SANITIZE === '1'

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost')
  if (url.pathname === '/go') {
    let next = url.searchParams.get('next') || '/'
    if (sanitize) next = next.replace(/[\r\n]/g, '')
    // Written by hand: this is the bug (or, with SANITIZE=1, its fix).
    req.socket.end('HTTP/1.1 302 Found\r\nLocation: ' + next + '\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    return
  }
  if (url.pathname === '/home') {
    // A harmless preference cookie, so the capture is not a cookie-less trace.
    if (!/(^|;\s*)lang=/.test(req.headers.cookie || '')) {
      res.setHeader('Set-Cookie', 'lang=en; Path=/; SameSite=Lax')
    }
    res.setHeader('Content-Type', 'text/plain; charset=utf-8')
    res.end('home; cookies: ' + (req.headers.cookie ? 'some' : 'none') + '\n')
    return
  }
  res.statusCode = 404
  res.end('not found\n')
})

server.listen(port, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + port))
const stop = () => server.close()
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
