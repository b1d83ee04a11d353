#include "ingest/ingestor.h"

namespace vitrina {

Ingestor::Ingestor(Store* store, IngestorOptions options)
    : store_(store), options_(options), thread_([this] { Run(); }) {}

Ingestor::~Ingestor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Status Ingestor::Submit(WriteBatch batch, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return Status::Unavailable("the server is shutting down");
    if (queued_records_ > 0 && queued_records_ + batch.size() > options_.max_queued_records) {
      return Status::Unavailable("ingest queue is full (" + std::to_string(queued_records_) +
                                 " records waiting); retry shortly");
    }
    queued_records_ += batch.size();
    queue_.push_back(Job{std::move(batch), std::move(done)});
  }
  wake_.notify_one();
  return Status::OK();
}

IngestorStats Ingestor::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Ingestor::Run() {
  std::vector<Job> group;
  std::vector<size_t> sizes;
  WriteBatch merged;
  std::vector<WriteOutcome> outcomes;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to commit
      size_t records = 0;
      while (!queue_.empty() && (group.empty() || records + queue_.front().batch.size() <= options_.max_group_records)) {
        records += queue_.front().batch.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_records_ -= records;
    }
    sizes.clear();
    for (Job& job : group) {
      sizes.push_back(job.batch.size());
      merged.Append(std::move(job.batch));
    }
    Status status = store_->Write(&merged, &outcomes);
    size_t offset = 0;
    for (size_t i = 0; i < group.size(); ++i) {
      std::vector<WriteOutcome> mine;
      if (status.ok()) mine.assign(outcomes.begin() + offset, outcomes.begin() + offset + sizes[i]);
      offset += sizes[i];
      group[i].done(status, std::move(mine));
    }
    {
      std::lock_guard lock(mutex_);
      if (status.ok()) {
        ++stats_.groups;
        stats_.batches += group.size();
        stats_.records += merged.size();
      }
    }
    group.clear();
    merged.Clear();
  }
}

}  // namespace vitrina
