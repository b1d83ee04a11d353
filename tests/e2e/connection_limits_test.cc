// One client cannot lock the others out: its open connections are capped,
// and a request header that trickles in is cut off after
// server.header_timeout_s, while an idle keep-alive connection is not.
#include <utility>  // before Asio under C++20 with Boost 1.74

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace vitrina::e2e {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A connection from `source` (all of 127.0.0.0/8 is loopback on Linux) that
// has sent the first byte of a request and nothing more.
std::unique_ptr<tcp::socket> OpenSlowConnection(net::io_context& io, const std::string& source, int port) {
  auto socket = std::make_unique<tcp::socket>(io);
  socket->open(tcp::v4());
  socket->bind(tcp::endpoint(net::ip::make_address(source), 0));
  socket->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  beast::error_code ignored;  // the server may have closed it already
  net::write(*socket, net::buffer("G", 1), ignored);
  socket->non_blocking(true);
  return socket;
}

// Connections the server has closed (end of stream or reset); it sends
// nothing else on them.
size_t CountClosed(const std::vector<std::unique_ptr<tcp::socket>>& sockets) {
  size_t closed = 0;
  for (const auto& socket : sockets) {
    char byte;
    beast::error_code ec;
    socket->read_some(net::buffer(&byte, 1), ec);
    if (ec && ec != net::error::would_block) ++closed;
  }
  return closed;
}

size_t CountOccurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

TEST(ConnectionLimitsTest, OneClientCannotLockOthersOut) {
  TempDir dir("client_cap");
  Server server(dir.path() + "/data", {"--server.max_connections_per_client", "50", "--server.header_timeout_s", "2"});
  ASSERT_TRUE(server.Start()) << server.log();
  net::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> slow;
  for (int i = 0; i < 300; ++i) slow.push_back(OpenSlowConnection(io, "127.0.0.2", server.port()));
  const auto opened = Clock::now();

  // Another client is served at once.
  HttpResult health = server.Request("GET", "/health", "", "");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_LT(MillisSince(opened), 1000) << "/health took too long while one client held 300 connections";

  // The 250 over the cap are closed at once, well before the header timeout.
  size_t closed = 0;
  while ((closed = CountClosed(slow)) < 250 && MillisSince(opened) < 1000) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(closed, 250u) << "after " << MillisSince(opened) << " ms";

  // The 50 within the cap never complete their header: closed once the
  // header timeout has passed (the server looks every second).
  std::this_thread::sleep_until(opened + 2s + 2s);
  EXPECT_EQ(CountClosed(slow), 300u);
  // One warning a minute for the address, not one per refused connection.
  EXPECT_EQ(CountOccurrences(server.log(), "closing new connections from 127.0.0.2"), 1u) << server.log();
}

TEST(ConnectionLimitsTest, IdleKeepAliveIsNotAHeaderTimeout) {
  TempDir dir("header_timeout");
  Server server(dir.path() + "/data", {"--server.header_timeout_s", "2"});
  ASSERT_TRUE(server.Start()) << server.log();
  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port()));
  net::io_context io;
  beast::tcp_stream keep_alive(io);
  keep_alive.connect(endpoint);
  http::request<http::empty_body> request(http::verb::get, "/health", 11);
  request.set(http::field::host, "127.0.0.1");
  beast::flat_buffer buffer;
  http::write(keep_alive, request);
  http::response<http::string_body> first;
  http::read(keep_alive, buffer, first);
  ASSERT_EQ(first.result_int(), 200) << first.body();

  // While that connection idles, another sends a header a byte at a time:
  // the whole header has header_timeout_s, however steadily it trickles.
  const std::string header = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(40, 'a') + "\r\n\r\n";
  tcp::socket trickle(io);
  trickle.connect(endpoint);
  const auto started = Clock::now();
  bool cut_off = false;
  for (size_t sent = 0; sent < header.size() && MillisSince(started) < 4500; ++sent) {
    beast::error_code ec;
    net::write(trickle, net::buffer(&header[sent], 1), ec);
    if (ec) {
      cut_off = true;
      break;
    }
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_TRUE(cut_off) << "a header trickling in for " << MillisSince(started) << " ms was not cut off";
  std::this_thread::sleep_until(started + 3500ms);

  // Idle longer than the header timeout, the keep-alive connection still
  // gets its next answer.
  http::write(keep_alive, request);
  http::response<http::string_body> second;
  http::read(keep_alive, buffer, second);
  EXPECT_EQ(second.result_int(), 200) << second.body();
}

}  // namespace
}  // namespace vitrina::e2e
