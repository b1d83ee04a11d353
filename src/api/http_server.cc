// Boost 1.74 under C++20: <utility> must come before Asio.
#include <utility>

#include "api/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/strings.h"

namespace vitrina {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr char kServerName[] = "vitrina/" VITRINA_VERSION;
// After an error reply on a connection we close, the client may still be
// sending (an oversized body): read and drop this much, for at most this
// long, so closing does not reset the connection before the reply is read.
constexpr size_t kLingerBytes = 1 << 20;
constexpr auto kLingerTime = std::chrono::seconds(2);

int64_t SteadyMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

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

class Session;

// Live sessions, for the idle sweeper. Thread-safe.
class SessionRegistry {
 public:
  void Add(Session* session, std::weak_ptr<Session> weak) {
    std::lock_guard lock(mutex_);
    sessions_.emplace(session, std::move(weak));
  }
  void Remove(Session* session) {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
  }
  std::vector<std::shared_ptr<Session>> Snapshot() {
    std::vector<std::shared_ptr<Session>> out;
    std::lock_guard lock(mutex_);
    out.reserve(sessions_.size());
    for (auto& [raw, weak] : sessions_) {
      if (auto session = weak.lock()) out.push_back(std::move(session));
    }
    return out;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

struct Shared {
  const Router* router;
  const HttpServerOptions* options;
  std::atomic<size_t>* connections;
  SessionRegistry* registry;
};

// The session whose request this thread is dispatching right now, if any.
thread_local Session* t_dispatching = nullptr;

// One connection. Its socket's executor is a strand: every handler of the
// session runs serialized on it. Idle and stalled connections are closed by
// the server's sweeper through Expire(), not by per-operation timers (those
// cost system calls on every read and write).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared shared) : socket_(std::move(socket)), shared_(shared) {}

  ~Session() {
    shared_.registry->Remove(this);
    shared_.connections->fetch_sub(1);
  }

  void Start() {
    shared_.registry->Add(this, weak_from_this());
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Milliseconds (steady clock) after which the sweeper closes the
  // connection; 0 while a handler works on a request.
  int64_t deadline() const { return deadline_ms_.load(std::memory_order_relaxed); }

  void Expire() {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->deadline() != 0 && self->deadline() <= SteadyMillis()) self->Close();
    });
  }

 private:
  void SetDeadline(std::chrono::milliseconds from_now) {
    deadline_ms_.store(SteadyMillis() + from_now.count(), std::memory_order_relaxed);
  }
  void SetIdleDeadline() { SetDeadline(std::chrono::seconds(shared_.options->idle_timeout_s)); }

  void ReadHeader() {
    head_ = false;
    parser_.emplace();
    parser_->body_limit(shared_.options->max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(shared_.options->max_header_bytes));
    SetIdleDeadline();
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    auto& header = parser_->get();
    head_ = header.method() == http::verb::head;
    version_ = header.version();
    if (version_ >= 11 && beast::iequals(header[http::field::expect], "100-continue")) {
      // Refuse before the client uploads the body, when the answer is known.
      HttpRequest probe = HeaderOnly(header);
      if (std::optional<HttpResponse> refusal = shared_.router->Precheck(probe)) {
        keep_alive_ = false;
        return Write(std::move(*refusal));
      }
      auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      SetIdleDeadline();
      http::async_write(socket_, *interim, [self = shared_from_this(), interim](beast::error_code write_ec, size_t) {
        if (write_ec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    SetIdleDeadline();
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::bad_descriptor) {
      return Close();
    }
    keep_alive_ = false;
    if (ec == http::error::body_limit) {
      return Write(ErrorResponse(413, "body_too_large",
                                 "the request body exceeds " + std::to_string(shared_.options->max_body_bytes) +
                                     " bytes (server.max_body_bytes)"));
    }
    if (ec == http::error::header_limit) {
      return Write(ErrorResponse(431, "headers_too_large",
                                 "the request headers exceed " + std::to_string(shared_.options->max_header_bytes) +
                                     " bytes"));
    }
    Write(ErrorResponse(400, "bad_request", "malformed HTTP request: " + ec.message()));
  }

  static HttpRequest HeaderOnly(const http::request_header<>& header) {
    HttpRequest request;
    request.method = ToMethod(header.method());
    request.method_name = std::string(header.method_string());
    (void)ParseTarget(std::string_view(header.target().data(), header.target().size()), &request.path,
                      &request.query);
    request.authorization = std::string(header[http::field::authorization]);
    request.origin = std::string(header[http::field::origin]);
    return request;
  }

  void OnRequest(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    http::request<http::string_body> raw = parser_->release();
    keep_alive_ = raw.keep_alive();
    HttpRequest request;
    request.method = ToMethod(raw.method());
    request.method_name = std::string(raw.method_string());
    if (!ParseTarget(std::string_view(raw.target().data(), raw.target().size()), &request.path, &request.query)) {
      return Write(ErrorResponse(400, "bad_request", "malformed %-escape in the query string"));
    }
    request.content_type = std::string(raw[http::field::content_type]);
    request.authorization = std::string(raw[http::field::authorization]);
    request.origin = std::string(raw[http::field::origin]);
    request.actor = std::string(raw["X-Vitrina-Actor"]);
    request.if_none_match = std::string(raw[http::field::if_none_match]);
    request.accept_encoding = std::string(raw[http::field::accept_encoding]);
    request.body = std::move(raw.body());
    deadline_ms_.store(0, std::memory_order_relaxed);  // the handler may take its time
    // Exactly one answer per request: whoever sets this first writes.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    t_dispatching = this;
    try {
      shared_.router->Dispatch(std::move(request), [self = shared_from_this(), answered](HttpResponse response) {
        if (answered->exchange(true)) return;
        // Answered inside the handler (reads): write at once. Answered later
        // from another thread (writes, on the ingest commit thread): hop back
        // onto this connection's strand.
        if (t_dispatching == self.get()) {
          self->Write(std::move(response));
          return;
        }
        net::post(self->socket_.get_executor(),
                  [self, response = std::move(response)]() mutable { self->Write(std::move(response)); });
      });
    } catch (const std::exception& error) {
      spdlog::error("request handler failed: {}", error.what());
      if (!answered->exchange(true)) Write(ErrorResponse(500, "internal", "the request could not be handled"));
    }
    t_dispatching = nullptr;
  }

  void Write(HttpResponse response) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    message->set(http::field::server, kServerName);
    if (!response.content_type.empty()) message->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) message->set(name, value);
    message->keep_alive(keep_alive_);
    message->body() = std::move(response.body);
    message->prepare_payload();
    if (head_) message->body().clear();
    // 503 is back-pressure or shutdown, expected under load: not a warning.
    if (response.status >= 500 && response.status != 503) {
      spdlog::warn("HTTP {}: {}", response.status, message->body().substr(0, 300));
    }
    SetIdleDeadline();
    http::async_write(socket_, *message, [self = shared_from_this(), message](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (!self->keep_alive_) return self->Linger();
      self->ReadHeader();
    });
  }

  // Half-closes, then drops what the client still sends (bounded), then
  // closes: the client reads our reply instead of a connection reset.
  void Linger() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    SetDeadline(std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTime));
    DrainSome();
  }

  void DrainSome() {
    if (drained_ >= kLingerBytes) return Close();
    socket_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->drained_ += n;
                              self->DrainSome();
                            });
  }

  void Close() {
    deadline_ms_.store(0, std::memory_order_relaxed);
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  Shared shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::atomic<int64_t> deadline_ms_{0};
  bool keep_alive_ = true;
  bool head_ = false;
  unsigned version_ = 11;
  size_t drained_ = 0;
  std::array<char, 4096> drain_buffer_{};
};

// One io_context per worker thread, each run by its thread alone: a
// connection lives on one thread from accept to close (connections are
// dealt out in turn), so a request is read, handled and answered without
// waking another thread. With one context shared by all threads, every
// completion could hand work to a sleeping thread (a futex wake and a
// scheduling delay, several per request).
std::vector<std::unique_ptr<net::io_context>> MakeContexts(int threads) {
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (int i = 0; i < threads; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
  return contexts;
}

int WorkerThreads(const HttpServerOptions& options) {
  return options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

struct HttpServer::Impl {
  Impl(HttpServerOptions opts, const Router* r)
      : options(std::move(opts)),
        router(r),
        contexts(MakeContexts(WorkerThreads(options))),
        acceptor(net::make_strand(*contexts[0])),
        accept_retry(acceptor.get_executor()),
        sweeper(net::make_strand(*contexts[0])),
        signals(*contexts[0]) {
    for (auto& context : contexts) keep_running.emplace_back(context->get_executor());
  }

  void Accept() {
    net::io_context& next = *contexts[next_context++ % contexts.size()];
    acceptor.async_accept(net::make_strand(next), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // Out of file descriptors or similar: the connection stays in the
        // backlog, so retrying at once would spin. Back off.
        spdlog::warn("accept failed: {}; retrying in 100 ms", ec.message());
        accept_retry.expires_after(std::chrono::milliseconds(100));
        accept_retry.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec) Accept();
        });
        return;
      }
      if (connections.fetch_add(1) >= options.max_connections) {
        connections.fetch_sub(1);
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        socket.set_option(tcp::no_delay(true), ec);
        Shared shared{router, &options, &connections, &registry};
        std::make_shared<Session>(std::move(socket), shared)->Start();
      }
      Accept();
    });
  }

  void Sweep() {
    sweeper.expires_after(std::chrono::seconds(1));
    sweeper.async_wait([this](beast::error_code ec) {
      if (ec) return;
      const int64_t now = SteadyMillis();
      for (const auto& session : registry.Snapshot()) {
        const int64_t deadline = session->deadline();
        if (deadline != 0 && deadline <= now) session->Expire();
      }
      Sweep();
    });
  }

  void RunThread(net::io_context* io) {
    while (true) {
      try {
        io->run();
        return;
      } catch (const std::exception& error) {
        spdlog::error("HTTP worker caught: {}", error.what());
      }
    }
  }

  HttpServerOptions options;
  const Router* router;
  // Before the contexts: sessions destroyed with them still find these.
  std::atomic<size_t> connections{0};
  SessionRegistry registry;
  std::vector<std::unique_ptr<net::io_context>> contexts;
  // A context with no connection yet must not return from run().
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running;
  size_t next_context = 0;  // on the acceptor's strand
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  net::steady_timer sweeper;
  net::signal_set signals;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::condition_variable stop_requested_cv;
  bool stop_requested = false;  // GUARDED_BY(mutex)
  bool stopped = false;         // GUARDED_BY(mutex)
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
  if (impl_->options.handle_signals) {
    impl_->signals.add(SIGINT);
    impl_->signals.add(SIGTERM);
    impl_->signals.async_wait([this](beast::error_code signal_ec, int signal) {
      if (signal_ec) return;
      spdlog::info("received signal {}, shutting down", signal);
      RequestStop();
    });
  }
  impl_->Accept();
  impl_->Sweep();
  for (auto& context : impl_->contexts) {
    impl_->threads.emplace_back([this, io = context.get()] { impl_->RunThread(io); });
  }
  return Status::OK();
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

void HttpServer::RequestStop() {
  std::lock_guard lock(impl_->mutex);
  impl_->stop_requested = true;
  impl_->stop_requested_cv.notify_all();
}

void HttpServer::WaitForStopRequest() {
  std::unique_lock lock(impl_->mutex);
  impl_->stop_requested_cv.wait(lock, [this] { return impl_->stop_requested; });
}

void HttpServer::StopAccepting() {
  auto closed = std::make_shared<std::promise<void>>();
  auto done = closed->get_future();
  net::post(impl_->acceptor.get_executor(), [this, closed] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->accept_retry.cancel();
    closed->set_value();
  });
  // Threads run the io_context until Stop(); without them, close here.
  if (impl_->threads.empty() || done.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  }
}

void HttpServer::Stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->stop_requested = true;
    impl_->stop_requested_cv.notify_all();
  }
  if (!impl_->threads.empty()) StopAccepting();
  for (auto& context : impl_->contexts) context->stop();
  for (auto& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
  impl_->threads.clear();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->signals.cancel(ignored);
}

}  // namespace vitrina
