# A Rack app whose sessions live in Redis through redis-rack's Rack::Session::Redis
# (Debian's ruby-redis-rack), driven the way Rails and Devise drive a session store.
# Run: PORT=8080 REDIS_URL=redis://127.0.0.1:6379/0 ruby server.rb
#
# Routes:
#   GET  /health.txt  readiness probe, touches no session
#   GET  /?cart=N     anonymous page: reads the session, keeps cart when given
#   POST /login       Devise/Warden at sign-in: renew the session id, store the user's
#                     key as Warden does (warden.user.user.key = [[id], salt]), and the
#                     form's api_token when given
#   GET  /dashboard   reads the session; redirects to / without a user
#   POST /logout      Rails' reset_session (session.destroy), redirect to /
require 'rack'
require 'rack/handler/webrick'
require 'rack/session/redis'
require 'uri'

port = Integer(ENV.fetch('PORT'))
redis_url = URI(ENV.fetch('REDIS_URL', 'redis://127.0.0.1:6379/0'))

# redis-rack's default server is redis://127.0.0.1:6379/0/rack:session: the last path
# segment is the key namespace, so keys are rack:session:<private id>, where Rack 2.2's
# private id is "2::" + SHA-256 of the id the cookie carries.
session_server = "redis://#{redis_url.host}:#{redis_url.port}/0/rack:session"

App = lambda do |env|
  req = Rack::Request.new(env)
  session = env['rack.session']
  case [req.request_method, req.path_info]
  when ['GET', '/health.txt']
    [200, { 'Content-Type' => 'text/plain' }, ["ok\n"]]
  when ['GET', '/']
    session['cart'] = Integer(req.params['cart']) if req.params['cart']
    [200, { 'Content-Type' => 'text/plain' }, ["cart #{session['cart'].inspect}\n"]]
  when ['POST', '/login']
    user = req.POST['user'].to_s
    return [400, { 'Content-Type' => 'text/plain' }, ["user is required\n"]] if user.empty?

    # Warden's set_user: renew the id, so the store deletes the old key and writes the
    # session, with what the visitor had, under a new one.
    env['rack.session.options'][:renew] = true
    session['warden.user.user.key'] = [[42], '$2a$12$KQ8iTmu7sQ1w7jNF0Yc5ce']
    session['api_token'] = req.POST['api_token'] if req.POST['api_token']
    [302, { 'Location' => '/dashboard', 'Content-Type' => 'text/plain' }, []]
  when ['GET', '/dashboard']
    user = session['warden.user.user.key']&.first&.first
    return [302, { 'Location' => '/', 'Content-Type' => 'text/plain' }, []] unless user

    [200, { 'Content-Type' => 'text/plain' }, ["hello user #{user}\n"]]
  when ['POST', '/logout']
    # ActionDispatch::Request#reset_session calls session.destroy: the store deletes
    # the key at once and hands out a new id; the emptied session is written under it
    # when the response is committed.
    session.destroy
    [302, { 'Location' => '/', 'Content-Type' => 'text/plain' }, []]
  else
    [404, { 'Content-Type' => 'text/plain' }, ["not found\n"]]
  end
end

# expire_after gives the keys a TTL (SETEX) and the cookie the same lifetime; without it
# redis-rack writes keys that never expire. same_site: Lax as Rails sets it.
app = Rack::Builder.new do
  use Rack::Session::Redis, redis_server: session_server, expire_after: 7200, same_site: :lax
  run App
end

Rack::Handler::WEBrick.run(app, Host: '127.0.0.1', Port: port, AccessLog: [],
                                StartCallback: -> { $stdout.puts 'listening'; $stdout.flush })
