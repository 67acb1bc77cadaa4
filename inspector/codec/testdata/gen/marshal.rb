# Writes the Ruby Marshal seeds under testdata/ruby_marshal with the real
# Marshal.dump, and captures what Rack::Session::Redis (redis-rack) really
# stores by running it against a throwaway redis-server.
# Usage: ruby marshal.rb TESTDATA_DIR
require 'date'
require 'socket'
require 'fileutils'

dir = File.join(ARGV.fetch(0), 'ruby_marshal')
FileUtils.mkdir_p(dir)
write = ->(name, bytes) { File.binwrite(File.join(dir, name), bytes) }

# The brief's mixed session: String and Symbol keys, an Integer, an Array, a
# Float, a Bignum beyond int64 and a nested Hash.
write.('mixed.bin', Marshal.dump({ 'session_id' => 'abc', 'user_id' => 42, 'cart' => [1, 2], :sym => true,
                                   'f' => 1.5, 'big' => 2**70, 'nested' => { 'a' => nil } }))

# Every other type a session may hold, parsed as data only.
class CartItem
  def initialize(sku, qty)
    @sku = sku
    @qty = qty
  end
end
Point = Struct.new(:x, :y)
class IndifferentHash < Hash; end
module Tagged; end
shared = 'shared'.dup
defaulted = Hash.new(0)
defaulted['hits'] = 3
ihash = IndifferentHash.new
ihash['k'] = 'v'
tagged = 'tagged'.dup.extend(Tagged)
write.('objects.bin', Marshal.dump({
  'item' => CartItem.new('SKU-1', 2),
  'point' => Point.new(1, -2),
  'at' => Time.utc(2026, 11, 23, 1, 2, 3, 456_789),
  'day' => Date.new(2026, 1, 2),
  'klass' => String,
  'mod' => Kernel,
  're' => /ab+c/i,
  'ihash' => ihash,
  'tagged' => tagged,
  'defaulted' => defaulted,
  'first' => shared,
  'again' => shared,
  :"café" => 'crème',
  'sjis' => 'abc'.dup.force_encoding('Shift_JIS'),
  'binary' => "\xff\x00".b,
  'ints' => [0, -1, -129, 300, 2**31, -(2**31), 2**62, -(2**63), 2**64],
  'floats' => [-0.0, 1e100, Float::INFINITY, 1.0 / 3]
}))

# Object links: a frozen String used as a Hash key after every type that
# takes a slot in Marshal's object table, so the key links back to it only
# when the decoder numbers the table as Ruby does.
key = 'linked'.freeze
write.('links.bin', Marshal.dump([Time.utc(2000), Date.new(2000, 1, 1), 2**70, 2**40, 1.5, /x/, String, Kernel,
                                  Point.new(1, 2), CartItem.new('a', 1), ihash, tagged, defaulted,
                                  'abc'.dup.force_encoding('Shift_JIS'), key, { key => key }]))

# A session whose top level is not a Hash.
write.('array_top.bin', Marshal.dump(['a', :b, 1]))

# Rack::Session::Redis end to end: a login that stores two values, and a
# session emptied by the application, which redis-rack stores as {}.
require 'rack'
require 'rack/session/redis'
require 'redis'
port = TCPServer.open('127.0.0.1', 0) { |s| s.addr[1] }
server = spawn('redis-server', '--port', port.to_s, '--save', '', '--appendonly', 'no', out: File::NULL)
begin
  redis = Redis.new(url: "redis://127.0.0.1:#{port}/0")
  50.times do
    break if (redis.ping rescue nil)
    sleep 0.1
  end
  app = lambda do |env|
    s = env['rack.session']
    case env['PATH_INFO']
    when '/login'
      s['user_id'] = 7
      s['cart'] = 'x'
    when '/empty'
      s['a'] = 1
      s.delete('a')
    end
    [200, { 'Content-Type' => 'text/plain' }, ['ok']]
  end
  stack = Rack::Session::Redis.new(app, redis_server: "redis://127.0.0.1:#{port}/0/rack:session", expire_after: 600)
  { '/login' => 'rack_redis_login.bin', '/empty' => 'rack_redis_empty.bin' }.each do |path, file|
    redis.flushdb
    Rack::MockRequest.new(stack).get(path)
    keys = redis.keys('rack:session:*')
    raise "#{path}: expected one session key, found #{keys.inspect}" unless keys.size == 1
    write.(file, redis.get(keys.first).b)
  end
ensure
  Process.kill('TERM', server)
  Process.wait(server)
end
