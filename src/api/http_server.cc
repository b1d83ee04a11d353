// Boost 1.74 under C++20: <utility> must come before Asio.
#include <utility>

#include "api/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/strings.h"

namespace vitrina {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr char kServerName[] = "vitrina/" VITRINA_VERSION;

HttpMethod ToMethod(http::verb verb) {
  switch (verb) {
    case http::verb::get: return HttpMethod::kGet;
    case http::verb::head: return HttpMethod::kHead;
    case http::verb::post: return HttpMethod::kPost;
    case http::verb::put: return HttpMethod::kPut;
    case http::verb::patch: return HttpMethod::kPatch;
    case http::verb::delete_: return HttpMethod::kDelete;
    case http::verb::options: return HttpMethod::kOptions;
    default: return HttpMethod::kOther;
  }
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Router* router, const HttpServerOptions* options,
          std::atomic<size_t>* connections)
      : stream_(std::move(socket)), router_(router), options_(options), connections_(connections) {}

  ~Session() { connections_->fetch_sub(1); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(options_->max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(options_->max_header_bytes));
    stream_.expires_after(std::chrono::seconds(options_->idle_timeout_s));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    auto& header = parser_->get();
    const auto expect = header[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      // Let clients (curl with large bodies) send the body without waiting.
      auto continue_response = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *continue_response,
                        [self = shared_from_this(), continue_response](beast::error_code write_ec, size_t) {
                          if (write_ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(std::chrono::seconds(options_->idle_timeout_s));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      return Close();
    }
    keep_alive_ = false;
    version_ = 11;
    if (ec == http::error::body_limit) {
      return Write(ErrorResponse(413, "body_too_large",
                                 "the request body exceeds " + std::to_string(options_->max_body_bytes) +
                                     " bytes (server.max_body_bytes)"));
    }
    if (ec == http::error::header_limit) {
      return Write(ErrorResponse(431, "headers_too_large", "the request headers are too large"));
    }
    Write(ErrorResponse(400, "bad_request", "malformed HTTP request: " + ec.message()));
  }

  void OnRequest(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    http::request<http::string_body> raw = parser_->release();
    keep_alive_ = raw.keep_alive();
    version_ = raw.version();
    HttpRequest request;
    request.method = ToMethod(raw.method());
    if (!ParseTarget(std::string_view(raw.target().data(), raw.target().size()), &request.path, &request.query)) {
      return Write(ErrorResponse(400, "bad_request", "malformed %-escape in the query string"));
    }
    request.content_type = std::string(raw[http::field::content_type]);
    request.authorization = std::string(raw[http::field::authorization]);
    request.body = std::move(raw.body());
    head_ = request.method == HttpMethod::kHead;
    router_->Dispatch(std::move(request), [self = shared_from_this()](HttpResponse response) {
      // Handlers may answer from another thread (the ingest commit thread).
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable { self->Write(std::move(response)); });
    });
  }

  void Write(HttpResponse response) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    message->set(http::field::server, kServerName);
    message->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) message->set(name, value);
    message->keep_alive(keep_alive_);
    message->body() = std::move(response.body);
    message->prepare_payload();
    if (head_) message->body().clear();
    if (response.status >= 500) {
      spdlog::warn("HTTP {}: {}", response.status, message->body().substr(0, 300));
    }
    stream_.expires_after(std::chrono::seconds(options_->idle_timeout_s));
    http::async_write(stream_, *message, [self = shared_from_this(), message](beast::error_code ec, size_t) {
      if (ec || !self->keep_alive_) return self->Close();
      self->ReadHeader();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const Router* router_;
  const HttpServerOptions* options_;
  std::atomic<size_t>* connections_;
  bool keep_alive_ = true;
  bool head_ = false;
  unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl {
  Impl(HttpServerOptions opts, const Router* r)
      : options(std::move(opts)),
        router(r),
        io(options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency())),
        acceptor(net::make_strand(io)) {}

  void Accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        spdlog::warn("accept failed: {}", ec.message());
      } else if (connections.fetch_add(1) >= options.max_connections) {
        connections.fetch_sub(1);
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), router, &options, &connections)->Start();
      }
      Accept();
    });
  }

  HttpServerOptions options;
  const Router* router;
  // Before `io`: sessions destroyed with the io_context still count down.
  std::atomic<size_t> connections{0};
  net::io_context io;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::condition_variable stopped_cv;
  bool stopped = false;
  uint16_t bound_port = 0;
};

HttpServer::HttpServer(HttpServerOptions options, const Router* router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->options.host, ec);
  if (ec) return Status::InvalidArgument("server.host '" + impl_->options.host + "' is not an IP address");
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + impl_->options.host + ":" +
                               std::to_string(impl_->options.port) + ": " + ec.message());
  }
  impl_->bound_port = acceptor.local_endpoint().port();
  impl_->Accept();
  const int threads =
      impl_->options.threads > 0 ? impl_->options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) impl_->threads.emplace_back([this] { impl_->io.run(); });
  return Status::OK();
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

void HttpServer::Wait(bool handle_signals) {
  std::unique_ptr<net::signal_set> signals;
  if (handle_signals) {
    signals = std::make_unique<net::signal_set>(impl_->io, SIGINT, SIGTERM);
    signals->async_wait([this](beast::error_code ec, int signal) {
      if (ec) return;
      spdlog::info("received signal {}, shutting down", signal);
      std::lock_guard lock(impl_->mutex);
      impl_->stopped = true;
      impl_->stopped_cv.notify_all();
    });
  }
  std::unique_lock lock(impl_->mutex);
  impl_->stopped_cv.wait(lock, [this] { return impl_->stopped; });
  lock.unlock();
  if (signals) {
    beast::error_code ignored;
    signals->cancel(ignored);
  }
}

void HttpServer::Stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopped = true;
    impl_->stopped_cv.notify_all();
  }
  net::post(impl_->acceptor.get_executor(), [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io.stop();
  for (auto& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
  impl_->threads.clear();
}

}  // namespace vitrina
