// Boost 1.74 under C++20: <utility> must come before Asio.
#include <utility>

#include "api/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/strings.h"

namespace vitrina {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<tcp::socket>;

constexpr char kServerName[] = "vitrina/" VITRINA_VERSION;
// After an error reply on a connection we close, the client may still be
// sending (an oversized body): read and drop this much, for at most this
// long, so closing does not reset the connection before the reply is read.
constexpr size_t kLingerBytes = 1 << 20;
constexpr auto kLingerTime = std::chrono::seconds(2);
// Bytes asked of the stream per read, as Beast's own HTTP reads ask.
constexpr size_t kReadChunk = 65536;
// A client over its connection cap is logged at most this often.
constexpr int64_t kClientWarningEveryMs = 60'000;

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

// What the sweeper sees of a session, whatever its stream.
class Connection {
 public:
  virtual ~Connection() = default;

  // Milliseconds (steady clock) after which the sweeper closes the
  // connection; 0 while a handler works on a request.
  int64_t deadline() const { return deadline_ms_.load(std::memory_order_relaxed); }
  // Closes the connection, on its own strand, if its deadline has passed.
  virtual void Expire() = 0;

 protected:
  void SetDeadline(std::chrono::milliseconds from_now) {
    deadline_ms_.store(SteadyMillis() + from_now.count(), std::memory_order_relaxed);
  }
  void ClearDeadline() { deadline_ms_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> deadline_ms_{0};
};

// Live sessions, for the idle sweeper. Thread-safe.
class SessionRegistry {
 public:
  void Add(Connection* session, std::weak_ptr<Connection> weak) {
    std::lock_guard lock(mutex_);
    sessions_.emplace(session, std::move(weak));
  }
  void Remove(Connection* session) {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
  }
  std::vector<std::shared_ptr<Connection>> Snapshot() {
    std::vector<std::shared_ptr<Connection>> out;
    std::lock_guard lock(mutex_);
    out.reserve(sessions_.size());
    for (auto& [raw, weak] : sessions_) {
      if (auto session = weak.lock()) out.push_back(std::move(session));
    }
    return out;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> sessions_;
};

// Open connections per client address, so that one client cannot take
// every connection the server has. Thread-safe.
class ClientLimiter {
 public:
  explicit ClientLimiter(size_t max_per_client) : max_per_client_(max_per_client) {}

  // True when `address` may open one more connection; each true must be
  // matched by one Release(address) when that connection closes.
  bool TryAcquire(const net::ip::address& address) {
    if (max_per_client_ == 0) return true;
    const int64_t now = SteadyMillis();
    {
      std::lock_guard lock(mutex_);
      size_t& open = open_[address];
      if (open < max_per_client_) {
        ++open;
        return true;
      }
      if (!ShouldWarn(address, now)) return false;
    }
    spdlog::warn("closing new connections from {}: it has {} open (server.max_connections_per_client; behind a "
                 "reverse proxy all clients share its address, so raise it or set 0 there)",
                 address.to_string(), max_per_client_);
    return false;
  }

  void Release(const net::ip::address& address) {
    if (max_per_client_ == 0) return;
    std::lock_guard lock(mutex_);
    auto it = open_.find(address);
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }

 private:
  // REQUIRES: mutex_ held.
  bool ShouldWarn(const net::ip::address& address, int64_t now) {
    // Forget old warnings now and then: many addresses must not grow this.
    if (last_warning_ms_.size() >= 4096) {
      std::erase_if(last_warning_ms_, [now](const auto& entry) { return now - entry.second >= kClientWarningEveryMs; });
    }
    auto [it, inserted] = last_warning_ms_.try_emplace(address, now);
    if (inserted) return true;
    if (now - it->second < kClientWarningEveryMs) return false;
    it->second = now;
    return true;
  }

  const size_t max_per_client_;
  std::mutex mutex_;
  std::map<net::ip::address, size_t> open_;               // GUARDED_BY(mutex_)
  std::map<net::ip::address, int64_t> last_warning_ms_;   // GUARDED_BY(mutex_)
};

struct Shared {
  const Router* router;
  const HttpServerOptions* options;
  std::atomic<size_t>* connections;
  SessionRegistry* registry;
  ClientLimiter* clients;
};

// The session whose request this thread is dispatching right now, if any.
thread_local const Connection* t_dispatching = nullptr;

// One connection over a Stream: tcp::socket for HTTP, TlsStream for HTTPS.
// Its executor is a strand: every handler of the session runs serialized on
// it. Idle and stalled connections are closed by the server's sweeper
// through Expire(), not by per-operation timers (those cost system calls on
// every read and write).
template <typename Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, Shared shared, net::ip::address client)
      : stream_(std::move(stream)), shared_(shared), client_(std::move(client)) {}

  ~Session() override {
    shared_.registry->Remove(this);
    shared_.clients->Release(client_);
    shared_.connections->fetch_sub(1);
  }

  void Start() {
    shared_.registry->Add(this, this->weak_from_this());
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->Handshake(); });
  }

  void Expire() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->deadline() != 0 && self->deadline() <= SteadyMillis()) self->Close();
    });
  }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  void SetIdleDeadline() { SetDeadline(std::chrono::seconds(shared_.options->idle_timeout_s)); }
  void SetHeaderDeadline() { SetDeadline(std::chrono::seconds(shared_.options->header_timeout_s)); }

  void Handshake() {
    if constexpr (kTls) {
      SetHeaderDeadline();
      stream_.async_handshake(net::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) {
          // Plain HTTP sent to the HTTPS port lands here too.
          spdlog::debug("TLS handshake with {} failed: {}", self->client_.to_string(), ec.message());
          return self->Close();
        }
        self->ReadRequest();
      });
    } else {
      ReadRequest();
    }
  }

  // Waits up to the idle timeout for the first bytes of the next request,
  // then gives its header header_timeout_s to arrive: a client that sends
  // a byte now and then cannot hold a connection for long. (Reading those
  // bytes, rather than waiting for the socket to be readable, also finds
  // requests a TLS stream has already taken off the socket.)
  void ReadRequest() {
    head_ = false;
    parser_.emplace();
    parser_->body_limit(shared_.options->max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(shared_.options->max_header_bytes));
    if (buffer_.size() > 0) return ReadHeader();  // pipelined: the request has begun
    SetIdleDeadline();
    stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, kReadChunk)),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->OnReadError(ec);
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    SetHeaderDeadline();
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
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
      http::async_write(stream_, *interim,
                        [self = this->shared_from_this(), interim](beast::error_code write_ec, size_t) {
                          if (write_ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    SetIdleDeadline();
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::bad_descriptor ||
        ec == net::ssl::error::stream_truncated || ec.category() == net::error::get_ssl_category()) {
      return Close();  // gone, or a broken TLS stream: no one to answer
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
    std::string problem, field;
    if (!ParseTarget(std::string_view(raw.target().data(), raw.target().size()), &request.path, &request.query,
                     &problem, &field)) {
      return Write(ErrorResponse(400, "bad_request", problem, field));
    }
    request.content_type = std::string(raw[http::field::content_type]);
    request.authorization = std::string(raw[http::field::authorization]);
    request.origin = std::string(raw[http::field::origin]);
    request.actor = std::string(raw["X-Vitrina-Actor"]);
    request.if_none_match = std::string(raw[http::field::if_none_match]);
    request.accept_encoding = std::string(raw[http::field::accept_encoding]);
    request.body = std::move(raw.body());
    ClearDeadline();  // the handler may take its time
    // Exactly one answer per request: whoever sets this first writes.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    t_dispatching = this;
    try {
      shared_.router->Dispatch(std::move(request), [self = this->shared_from_this(), answered](HttpResponse response) {
        if (answered->exchange(true)) return;
        // Answered inside the handler (reads): write at once. Answered later
        // from another thread (writes, on the ingest commit thread): hop back
        // onto this connection's strand.
        if (t_dispatching == self.get()) {
          self->Write(std::move(response));
          return;
        }
        net::post(self->stream_.get_executor(),
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
    http::async_write(stream_, *message, [self = this->shared_from_this(), message](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (!self->keep_alive_) return self->Linger();
      self->ReadRequest();
    });
  }

  // Half-closes, then drops what the client still sends (bounded), then
  // closes: the client reads our reply instead of a connection reset. Over
  // TLS the half-close is a close_notify, and OpenSSL waits for the
  // client's own (or its close).
  void Linger() {
    SetDeadline(std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTime));
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->Close(); });
    } else {
      beast::error_code ignored;
      stream_.shutdown(tcp::socket::shutdown_send, ignored);
      DrainSome();
    }
  }

  void DrainSome() {
    if (drained_ >= kLingerBytes) return Close();
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->drained_ += n;
                              self->DrainSome();
                            });
  }

  void Close() {
    ClearDeadline();
    tcp::socket& socket = beast::get_lowest_layer(stream_);
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  Stream stream_;
  Shared shared_;
  const net::ip::address client_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
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

bool TlsWanted(const HttpServerOptions& options) { return !options.tls_cert.empty() || !options.tls_key.empty(); }

Status CheckReadable(const std::string& option, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return Status::InvalidArgument(option + ": cannot read " + path + ": " + std::strerror(errno));
  std::fclose(file);
  return Status::OK();
}

// Sets up `context` for TLS 1.2 and later with the certificate and key the
// options name. Error messages name the option and the file.
Status LoadTls(const HttpServerOptions& options, net::ssl::context* context) {
  if (options.tls_cert.empty() || options.tls_key.empty()) {
    return Status::InvalidArgument(
        "server.tls_cert and server.tls_key go together: set both for HTTPS, or neither for HTTP");
  }
  VITRINA_RETURN_IF_ERROR(CheckReadable("server.tls_cert", options.tls_cert));
  VITRINA_RETURN_IF_ERROR(CheckReadable("server.tls_key", options.tls_key));
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  context->use_certificate_chain_file(options.tls_cert, ec);
  if (ec) {
    return Status::InvalidArgument("server.tls_cert: " + options.tls_cert + " holds no PEM certificate (" +
                                   ec.message() + ")");
  }
  context->use_private_key_file(options.tls_key, net::ssl::context::pem, ec);
  if (ec && ERR_GET_LIB(ec.value()) == ERR_LIB_X509 && ERR_GET_REASON(ec.value()) == X509_R_KEY_VALUES_MISMATCH) {
    return Status::InvalidArgument("server.tls_key: " + options.tls_key + " is not the key of the certificate in " +
                                   options.tls_cert);
  }
  if (ec) {
    return Status::InvalidArgument("server.tls_key: " + options.tls_key + " holds no unencrypted PEM private key (" +
                                   ec.message() + ")");
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return Status::InvalidArgument("server.tls_key: " + options.tls_key + " is not the key of the certificate in " +
                                   options.tls_cert);
  }
  return Status::OK();
}

}  // namespace

Status CheckTlsFiles(const HttpServerOptions& options) {
  if (!TlsWanted(options)) return Status::OK();
  net::ssl::context context(net::ssl::context::tls_server);
  return LoadTls(options, &context);
}

struct HttpServer::Impl {
  Impl(HttpServerOptions opts, const Router* r)
      : options(std::move(opts)),
        router(r),
        clients(options.max_connections_per_client),
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
      Admit(std::move(socket));
      Accept();
    });
  }

  // Starts a session on `socket`, or closes it at once (by returning) when
  // the server, or the client's address, has all the connections it may.
  void Admit(tcp::socket socket) {
    beast::error_code ec;
    const tcp::endpoint peer = socket.remote_endpoint(ec);
    if (ec) return;  // the client has gone already
    if (connections.fetch_add(1) >= options.max_connections) {
      connections.fetch_sub(1);
      return;
    }
    if (!clients.TryAcquire(peer.address())) {
      connections.fetch_sub(1);
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    Shared shared{router, &options, &connections, &registry, &clients};
    if (tls) {
      std::make_shared<Session<TlsStream>>(TlsStream(std::move(socket), *tls), shared, peer.address())->Start();
    } else {
      std::make_shared<Session<tcp::socket>>(std::move(socket), shared, peer.address())->Start();
    }
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
  ClientLimiter clients;
  std::optional<net::ssl::context> tls;  // set by Start() for HTTPS
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
  if (TlsWanted(impl_->options)) {
    impl_->tls.emplace(net::ssl::context::tls_server);
    VITRINA_RETURN_IF_ERROR(LoadTls(impl_->options, &*impl_->tls));
  }
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
