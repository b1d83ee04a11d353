#include <utility>  // before Asio under C++20 with Boost 1.74

#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace vitrina::e2e {
namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::vector<char*> Argv(const char* program, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program));
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  return argv;
}

// In the child: drop inherited VITRINA_* settings, then apply `env`.
void PrepareChildEnv(const std::map<std::string, std::string>& env) {
  std::vector<std::string> drop;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (entry.rfind("VITRINA_", 0) == 0) drop.push_back(entry.substr(0, entry.find('=')));
  }
  for (const auto& name : drop) ::unsetenv(name.c_str());
  for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
}

// Runs `program` (execvp: a path, or a name on PATH) with `env` applied.
CommandResult Run(const std::string& program, const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env, const std::string& stdin_text) {
  int out_pipe[2], in_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(in_pipe) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(out_pipe[1], STDERR_FILENO);
    ::close(out_pipe[0]);
    ::close(in_pipe[1]);
    PrepareChildEnv(env);
    auto argv = Argv(program.c_str(), args);
    ::execvp(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(in_pipe[0]);
  std::thread writer([&] {
    size_t done = 0;
    while (done < stdin_text.size()) {
      ssize_t n = ::write(in_pipe[1], stdin_text.data() + done, stdin_text.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(in_pipe[1]);
  });
  CommandResult result;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(out_pipe[0], buffer, sizeof buffer)) > 0) result.out.append(buffer, static_cast<size_t>(n));
  ::close(out_pipe[0]);
  writer.join();
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace

TempDir::TempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  path_ = (fs::path(::testing::TempDir()) /
           ("vitrina_e2e_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
              .string();
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

CommandResult RunVitrina(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                         const std::string& stdin_text) {
  return Run(VITRINA_BINARY, args, env, stdin_text);
}

CommandResult RunProgram(const std::string& program, const std::vector<std::string>& args) {
  return Run(program, args, {}, "");
}

Server::Server(std::string data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  log_path_ = data_dir_ + ".server.log";
  port_file_ = data_dir_ + ".port";
}

Server::~Server() {
  if (pid_ > 0) Kill();
  std::error_code ignored;
  fs::remove(log_path_, ignored);
  fs::remove(port_file_, ignored);
}

bool Server::Start() {
  fs::remove(port_file_);
  pid_ = ::fork();
  if (pid_ == 0) {
    int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    PrepareChildEnv({{"VITRINA_ADMIN_KEY", kAdminKey}, {"VITRINA_PUBLIC_KEY", kPublicKey}});
    std::vector<std::string> args = {"serve", "--data", data_dir_, "--port", "0", "--port-file", port_file_,
                                     "--server.threads", "2"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    auto argv = Argv(VITRINA_BINARY, args);
    ::execv(VITRINA_BINARY, argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 1500; ++i) {  // 30 s: CI machines can be slow
    std::ifstream in(port_file_);
    if (in >> port_) return true;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int Server::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Server::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string Server::log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

HttpResult Server::Request(const std::string& method, const std::string& target, const std::string& body,
                           const std::string& key, const std::map<std::string, std::string>& headers) {
  HttpResult result;
  try {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));  // a hung server fails the test, not the run
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_)));
    http::request<http::string_body> request(http::string_to_verb(method), target, 11);
    request.set(http::field::host, "127.0.0.1");
    if (!key.empty()) request.set(http::field::authorization, "Bearer " + key);
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = body;
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 30);
    if (method == "HEAD") parser.skip(true);
    http::read(stream, buffer, parser);
    auto& response = parser.get();
    result.status = response.result_int();
    result.body = response.body();
    for (const auto& field : response) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[name] = std::string(field.value());
    }
  } catch (const std::exception& error) {
    result.status = -1;
    result.body = error.what();
  }
  return result;
}

std::string Server::RawExchange(const std::string& bytes) {
  std::string received;
  try {
    net::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_)));
    net::write(stream, net::buffer(bytes));
    std::array<char, 4096> buffer;
    beast::error_code ec;
    while (true) {
      size_t n = stream.read_some(net::buffer(buffer), ec);
      received.append(buffer.data(), n);
      if (ec) break;
    }
  } catch (const std::exception& error) {
    received += std::string("<exception: ") + error.what() + ">";
  }
  return received;
}

simdjson::dom::element JsonBodies::Parse(const HttpResult& result) {
  bodies_.push_back(result.body);
  auto parsed = parser_.parse(bodies_.back());
  EXPECT_FALSE(parsed.error()) << "not JSON: " << result.body;
  return parsed.value();
}

std::string TrainAndWait(Server& server, const std::string& previous) {
  HttpResult started = server.Request("POST", "/v1/models/train");
  EXPECT_EQ(started.status, 202) << started.body;
  for (int attempt = 0; attempt < 300; ++attempt) {
    HttpResult models = server.Request("GET", "/v1/models");
    simdjson::dom::parser parser;
    auto doc = parser.parse(models.body);
    std::string_view current;
    bool running = bool(doc["training"]["running"]) || bool(doc["training"]["queued"]);
    if (!running && doc["current"].get(current) == simdjson::SUCCESS && current != previous) {
      return std::string(current);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "training did not finish: " << server.Request("GET", "/v1/models").body;
  return "";
}

}  // namespace vitrina::e2e
