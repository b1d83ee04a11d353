// The baseline for HTTP figures in docs/BENCHMARKS.md: the smallest
// keep-alive Boost.Beast server (one thread, fixed 200 response), to set
// beside `vitrina serve` in the same run. Usage: minimal_http_server PORT
#include <utility>  // before Asio under C++20 with Boost 1.74

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(tcp::socket socket) : stream_(std::move(socket)) {}
  void Read() {
    request_ = {};
    http::async_read(stream_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      self->response_ = {http::status::ok, self->request_.version()};
      self->response_.set(http::field::content_type, "application/json");
      self->response_.body() = R"({"status":"ok"})";
      self->response_.keep_alive(self->request_.keep_alive());
      self->response_.prepare_payload();
      http::async_write(self->stream_, self->response_, [self](beast::error_code write_ec, size_t) {
        if (!write_ec && self->response_.keep_alive()) self->Read();
      });
    });
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

void Accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<Connection>(std::move(socket))->Read();
    }
    Accept(acceptor);
  });
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: minimal_http_server PORT\n";
    return 2;
  }
  net::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                           static_cast<unsigned short>(std::atoi(argv[1]))));
  Accept(acceptor);
  io.run();
}
