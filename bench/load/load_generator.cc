#include "load_generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <queue>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "latency_histogram.h"
#include "proc_stats.h"

namespace callguard::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kConverseMethod[] = "/callguard.v1.CallGuard/Converse";
constexpr char kConverseManyMethod[] = "/callguard.v1.CallGuard/ConverseMany";
// Problems are counted; only the first few are also printed.
constexpr int kProblemsLogged = 5;

int64_t Nanos(Clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

// Runs tasks at given times on one thread. After Hurry() every task runs at once, in order.
class Scheduler {
 public:
  using Task = std::function<void()>;

  Scheduler() : thread_([this] { Loop(); }) {}
  ~Scheduler() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hurry_ = true;
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void At(Clock::time_point when, Task task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push(Entry{when, next_seq_++, std::move(task)});
    }
    cv_.notify_all();
  }

  void Hurry() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hurry_ = true;
    }
    cv_.notify_all();
  }

 private:
  struct Entry {
    Clock::time_point when;
    uint64_t seq;
    Task task;
    bool operator>(const Entry& other) const {
      return when != other.when ? when > other.when : seq > other.seq;
    }
  };

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (queue_.empty()) {
        if (stop_) return;
        cv_.wait(lock);
        continue;
      }
      const Clock::time_point when = queue_.top().when;
      if (!hurry_ && Clock::now() < when) {
        cv_.wait_until(lock, when);
        continue;
      }
      Task task = std::move(const_cast<Entry&>(queue_.top()).task);
      queue_.pop();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue_;
  uint64_t next_seq_ = 0;
  bool hurry_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

class StreamBase;

// An utterance sent and not yet answered.
struct Pending {
  const std::string* utterance_id;  // points into the script
  Clock::time_point sent;
  bool in_window;  // sent during the measured window: its latency counts
};

class Generator {
 public:
  explicit Generator(LoadOptions options) : options_(std::move(options)) {
    paced_ = options_.rate_per_call > 0;
    if (paced_) {
      period_ = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(1.0 / options_.rate_per_call));
    }
    calls_per_stream_ = std::max(1, options_.calls_per_stream);
  }

  absl::StatusOr<LoadReport> Run();

  // For the streams.
  bool paced() const { return paced_; }
  Clock::duration period() const { return period_; }
  size_t window() const { return static_cast<size_t>(std::max(1, options_.window)); }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  bool recording() const { return recording_.load(std::memory_order_relaxed); }
  Scheduler& scheduler() { return *scheduler_; }
  // When a slot plays its first call: the slots' starts are spread evenly over the ramp.
  Clock::time_point SlotStart(int slot) const { return t0_ + ramp_ * slot / options_.calls; }

  // The slot's next call: its script (neighbouring slots play different calls, each slot goes
  // on through the corpus) and a call id never used before.
  std::pair<const CallScript*, std::string> NextCall(int slot);
  // A call played by NextCall is over (answered, or its stream ended): `lost` utterances of it
  // were never answered.
  void OnCallOver(size_t lost) {
    lost_.fetch_add(static_cast<int64_t>(lost), std::memory_order_relaxed);
    open_calls_.fetch_sub(1, std::memory_order_relaxed);
  }

  void CountSent(bool is_final) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    if (is_final) finals_sent_.fetch_add(1, std::memory_order_relaxed);
  }
  void RecordLag(Clock::duration lag) {
    if (recording()) lag_.Record(Nanos(lag));
  }
  void OnVerdict(const Pending* pending, Clock::time_point now, int64_t eval_ns);
  void OnAnswerError(bool for_utterance, const std::string& what);
  void OnStray(const std::string& what);
  void OnMismatch(const std::string& what);
  void OnSummary() { summaries_.fetch_add(1, std::memory_order_relaxed); }
  void OnStreamDone(int stream, const grpc::Status& status);

 private:
  bool multiplexed() const { return calls_per_stream_ > 1; }
  // Opens stream number `stream`: a Converse stream for slot `stream`, or a ConverseMany
  // stream for the slots [stream * calls_per_stream, ...).
  void StartStream(int stream);
  void Problem(const std::string& what) {
    if (problems_logged_.fetch_add(1) < kProblemsLogged) std::cerr << "callguard-bench: " << what << "\n";
  }

  LoadOptions options_;
  bool paced_ = false;
  Clock::duration period_{};
  int calls_per_stream_ = 1;
  int streams_ = 0;
  Clock::time_point t0_;
  Clock::duration ramp_{};
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;

  // Per slot: how many calls it played (for unique call ids). Per stream number: the live
  // stream, for cancelling.
  std::mutex slots_mu_;
  std::vector<int> iterations_;
  std::vector<std::weak_ptr<StreamBase>> live_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> recording_{false};
  std::mutex open_mu_;
  std::condition_variable open_cv_;
  int64_t open_ = 0;  // streams started or about to be, not yet done

  std::atomic<int64_t> sent_{0}, finals_sent_{0}, verdicts_{0}, answered_{0}, utterance_errors_{0},
      event_errors_{0}, stray_{0}, mismatched_{0}, lost_{0}, started_{0}, streams_ok_{0},
      streams_failed_{0}, summaries_{0}, calls_started_{0}, open_calls_{0};
  std::atomic<int> problems_logged_{0};
  LatencyHistogram latency_, eval_, lag_;
};

// One scripted call as a dialer plays it: the CallStart, the steps at their pace (paced) or as
// the window allows, the CallEnd; and the bookkeeping of its answers. The same on either RPC:
// its events go to a Sink, its stream hands it the answers for it. Not thread-safe: the
// stream's lock guards it.
class CallPlayer {
 public:
  // Where the call's events go.
  class Sink {
   public:
    // `call_end`: the call's last event.
    virtual void Send(const grpc::ByteBuffer& event, bool call_end) = 0;

   protected:
    ~Sink() = default;
  };

  CallPlayer(Generator* generator, const CallScript* script, const std::string& call_id, Sink* sink)
      : generator_(generator), script_(script), start_wire_(StartWire(*script, call_id)), sink_(sink) {}

  bool end_sent() const { return end_sent_; }

  // Sends the CallStart and what is due after it. Returns when to call Advance next (paced).
  std::optional<Clock::time_point> Begin(Clock::time_point now);
  // Sends what is due by `now`, or the CallEnd once the script is done or the run stops.
  // Returns when to call it again (paced); as fast as possible it is called on every answer.
  std::optional<Clock::time_point> Advance(Clock::time_point now);
  // An answer about this call. Returns true once the call is over: its CallEnd was answered.
  bool OnAnswer(const v1::GuardEvent& event, Clock::time_point now);
  // The utterances sent and not answered, forgotten.
  size_t TakeUnanswered() { return std::exchange(pending_, {}).size(); }

 private:
  Generator* const generator_;
  const CallScript* const script_;
  const grpc::ByteBuffer start_wire_;
  Sink* const sink_;
  size_t next_step_ = 0;
  Clock::time_point next_due_;
  bool end_sent_ = false;
  std::deque<Pending> pending_;
};

std::optional<Clock::time_point> CallPlayer::Begin(Clock::time_point now) {
  next_due_ = now;
  sink_->Send(start_wire_, /*call_end=*/false);
  return Advance(now);
}

std::optional<Clock::time_point> CallPlayer::Advance(Clock::time_point now) {
  while (!end_sent_) {
    if (generator_->stopping() || next_step_ == script_->steps.size()) {
      end_sent_ = true;
      sink_->Send(script_->end, /*call_end=*/true);
      break;
    }
    const ScriptStep& step = script_->steps[next_step_];
    if (step.is_utterance) {
      if (generator_->paced()) {
        const Clock::time_point due =
            next_due_ + std::chrono::duration_cast<Clock::duration>(generator_->period() * step.wait_turns);
        if (now < due) return due;
        next_due_ = due;
        generator_->RecordLag(now - due);
      } else if (pending_.size() >= generator_->window()) {
        break;
      }
      pending_.push_back(Pending{&step.utterance_id, now, generator_->recording()});
      generator_->CountSent(step.is_final);
    }
    sink_->Send(step.wire, /*call_end=*/false);
    ++next_step_;
  }
  return std::nullopt;
}

bool CallPlayer::OnAnswer(const v1::GuardEvent& event, Clock::time_point now) {
  if (event.has_verdict()) {
    if (pending_.empty() || *pending_.front().utterance_id != event.verdict().utterance_id()) {
      generator_->OnMismatch(absl::StrCat("verdict for \"", event.verdict().utterance_id(), "\" while waiting for \"",
                                          pending_.empty() ? "" : *pending_.front().utterance_id, "\""));
    } else {
      generator_->OnVerdict(&pending_.front(), now, event.verdict().eval_ns());
      pending_.pop_front();
    }
    return false;
  }
  if (event.has_error()) {
    const bool for_pending = !pending_.empty() && !event.error().utterance_id().empty() &&
                             *pending_.front().utterance_id == event.error().utterance_id();
    if (for_pending) pending_.pop_front();
    generator_->OnAnswerError(for_pending, event.error().ShortDebugString());
    // Nothing left to answer but the CallEnd: this error was its answer.
    return !for_pending && end_sent_ && pending_.empty();
  }
  if (event.has_summary()) {
    generator_->OnSummary();
    return true;
  }
  generator_->OnStray(event.ShortDebugString());
  return false;
}

// What both stream kinds share: the gRPC stream, its write queue (one write in flight), and the
// hold that keeps it from finishing while scheduled tasks may still write on it. Owned by
// itself (self_) until OnDone and by every task scheduled for it.
class StreamBase : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamBase(Generator* generator, int stream) : generator_(generator), stream_(stream) {}
  virtual ~StreamBase() = default;

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override { WriteCompleted(ok); }
  void OnWritesDoneDone(bool ok) override { WriteCompleted(ok); }
  void OnDone(const grpc::Status& status) override;

 protected:
  enum class WriteKind { kMessage, kLast, kWritesDone };

  // What to ask of gRPC and the scheduler once the lock is released.
  struct Actions {
    bool start_write = false;
    WriteKind kind = WriteKind::kMessage;
    const grpc::ByteBuffer* write = nullptr;
    bool arm_timer = false;
    Clock::time_point due;
    int timer_slot = 0;         // which call the timer advances, for the stream to check
    uint64_t timer_call = 0;
    bool release_hold = false;
  };
  using LockedStep = absl::FunctionRef<void(Clock::time_point now, Actions* actions)>;

  // Starts the RPC with a hold, after `first_step` (under the lock) queued the first writes.
  void Open(std::shared_ptr<StreamBase> self, grpc::GenericStub* stub, const char* method, LockedStep first_step);
  // Runs `step` under the lock from a scheduled task, unless the stream is closed.
  void RunScheduled(LockedStep step);

  // Queues a write of `wire`, which must stay alive until it is written (the script's), or of
  // `owned` (kept in the queue); none for kWritesDone.
  void QueueLocked(const grpc::ByteBuffer* wire, WriteKind kind);
  void QueueOwnedLocked(grpc::ByteBuffer owned, WriteKind kind);
  // Nothing more goes out from outside gRPC's reactions: the last write is queued, or the
  // stream is broken.
  void ReleaseHoldLocked();
  static void ArmTimer(std::optional<Clock::time_point> due, int slot, uint64_t call, Actions* actions) {
    if (!due.has_value()) return;
    actions->arm_timer = true;
    actions->due = *due;
    actions->timer_slot = slot;
    actions->timer_call = call;
  }
  // Ends every locked section: starts the next write if none is in flight.
  void CollectLocked(Actions* actions);
  void Apply(const Actions& actions);

  // Parses read_buffer_ and hands the answer to its call, under the lock.
  virtual void OnAnswer(Clock::time_point now, Actions* actions) = 0;
  // A timer armed with ArmTimer is due.
  virtual void OnTimerLocked(int slot, uint64_t call, Clock::time_point now, Actions* actions) = 0;
  // The stream is over: ends the calls still on it (OnCallOver).
  virtual void EndCallsLocked() = 0;

  Generator* const generator_;
  const int stream_;
  grpc::ClientContext context_;
  grpc::ByteBuffer read_buffer_;
  std::mutex mu_;

 private:
  struct Write {
    const grpc::ByteBuffer* wire;  // null for kWritesDone
    WriteKind kind;
    grpc::ByteBuffer owned;
  };

  void WriteCompleted(bool ok);

  std::shared_ptr<StreamBase> self_;
  // Guarded by mu_. A deque keeps each queued write at its address while it is written.
  std::deque<Write> writes_;  // front: the write in flight, if writing_
  bool writing_ = false;
  bool holding_ = false;
  bool release_hold_ = false;  // holding_ just ended: remove the hold after unlocking
  bool closed_ = false;        // broken, or the server has finished: write nothing more
};

void StreamBase::Open(std::shared_ptr<StreamBase> self, grpc::GenericStub* stub, const char* method,
                      LockedStep first_step) {
  self_ = std::move(self);
  stub->PrepareBidiStreamingCall(&context_, method, grpc::StubOptions(), this);
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    holding_ = true;
    first_step(Clock::now(), &actions);
    CollectLocked(&actions);
  }
  AddHold();  // the stream's (holding_)
  AddHold();  // ours, as in RunScheduled: reactions may release the stream's before Apply
  StartRead(&read_buffer_);
  StartCall();
  Apply(actions);
  RemoveHold();
}

void StreamBase::RunScheduled(LockedStep step) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!holding_) return;
    // This task's own hold: the stream's may end on another thread before ours is applied.
    AddHold();
    step(Clock::now(), &actions);
    CollectLocked(&actions);
  }
  Apply(actions);
  RemoveHold();
}

void StreamBase::QueueLocked(const grpc::ByteBuffer* wire, WriteKind kind) {
  writes_.push_back(Write{wire, kind, grpc::ByteBuffer()});
}

void StreamBase::QueueOwnedLocked(grpc::ByteBuffer owned, WriteKind kind) {
  Write& write = writes_.emplace_back(Write{nullptr, kind, std::move(owned)});
  write.wire = &write.owned;
}

void StreamBase::ReleaseHoldLocked() {
  if (!holding_) return;
  holding_ = false;
  release_hold_ = true;
}

void StreamBase::CollectLocked(Actions* actions) {
  if (!writing_ && !closed_ && !writes_.empty()) {
    writing_ = true;
    actions->start_write = true;
    actions->kind = writes_.front().kind;
    actions->write = writes_.front().wire;
  }
  actions->release_hold = std::exchange(release_hold_, false);
}

void StreamBase::Apply(const Actions& actions) {
  if (actions.start_write) {
    switch (actions.kind) {
      case WriteKind::kMessage:
        StartWrite(actions.write);
        break;
      case WriteKind::kLast:
        StartWriteLast(actions.write, grpc::WriteOptions());
        break;
      case WriteKind::kWritesDone:
        StartWritesDone();
        break;
    }
  }
  if (actions.arm_timer) {
    // Reading self_ is safe: it is cleared only in OnDone, which waits for our hold or reaction.
    generator_->scheduler().At(actions.due, [self = self_, slot = actions.timer_slot, call = actions.timer_call] {
      self->RunScheduled([&](Clock::time_point now, Actions* timer_actions) {
        self->OnTimerLocked(slot, call, now, timer_actions);
      });
    });
  }
  if (actions.release_hold) RemoveHold();
}

void StreamBase::WriteCompleted(bool ok) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!writes_.empty()) writes_.pop_front();
    if (!ok) {
      closed_ = true;  // the status in OnDone says why
      writes_.clear();
      ReleaseHoldLocked();
    }
    CollectLocked(&actions);
  }
  Apply(actions);
}

void StreamBase::OnReadDone(bool ok) {
  Actions actions;
  if (!ok) {
    // The server finished the stream (OnDone follows once our hold is gone): nothing more to send.
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    ReleaseHoldLocked();
    CollectLocked(&actions);
  } else {
    OnAnswer(Clock::now(), &actions);
    StartRead(&read_buffer_);
  }
  Apply(actions);
}

void StreamBase::OnDone(const grpc::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    EndCallsLocked();
  }
  std::shared_ptr<StreamBase> keep = std::move(self_);  // may free this on return
  generator_->OnStreamDone(stream_, status);
}

// One call on a Converse stream of its own: the stream ends with the call.
class Stream final : public StreamBase, private CallPlayer::Sink {
 public:
  Stream(Generator* generator, int slot, const CallScript* script, const std::string& call_id)
      : StreamBase(generator, slot), player_(generator, script, call_id, this) {}

  void Begin(std::shared_ptr<Stream> self, grpc::GenericStub* stub) {
    Open(std::move(self), stub, kConverseMethod, [this](Clock::time_point now, Actions* actions) {
      ArmTimer(player_.Begin(now), 0, 0, actions);
    });
  }

 private:
  void Send(const grpc::ByteBuffer& event, bool call_end) override {
    QueueLocked(&event, call_end ? WriteKind::kLast : WriteKind::kMessage);
    if (call_end) ReleaseHoldLocked();
  }

  void OnAnswer(Clock::time_point now, Actions* actions) override {
    v1::GuardEvent event;
    const bool parsed = grpc::SerializationTraits<v1::GuardEvent>::Deserialize(&read_buffer_, &event).ok();
    std::lock_guard<std::mutex> lock(mu_);
    if (!parsed) {
      generator_->OnAnswerError(false, "an answer that does not parse as a GuardEvent");
    } else {
      player_.OnAnswer(event, now);  // the server's finish ends the call
      if (!generator_->paced()) ArmTimer(player_.Advance(now), 0, 0, actions);
    }
    CollectLocked(actions);
  }

  void OnTimerLocked(int, uint64_t, Clock::time_point now, Actions* actions) override {
    if (!player_.end_sent()) ArmTimer(player_.Advance(now), 0, 0, actions);
  }

  void EndCallsLocked() override { generator_->OnCallOver(player_.TakeUnanswered()); }

  CallPlayer player_;
};

// Many calls on one ConverseMany stream: each slot plays calls one after another as a Converse
// slot does, every event wrapped in an envelope naming its call, every answer routed by the
// call id in its envelope. The stream ends (WritesDone) once every slot has stopped.
class ManyStream final : public StreamBase {
 public:
  ManyStream(Generator* generator, int stream, int first_slot, int slots)
      : StreamBase(generator, stream), slots_(static_cast<size_t>(slots)) {
    for (int i = 0; i < slots; ++i) {
      slots_[static_cast<size_t>(i)].stream = this;
      slots_[static_cast<size_t>(i)].slot = first_slot + i;
    }
  }

  void Begin(std::shared_ptr<ManyStream> self, grpc::GenericStub* stub) {
    Open(self, stub, kConverseManyMethod, [](Clock::time_point, Actions*) {});
    for (size_t i = 0; i < slots_.size(); ++i) {
      generator_->scheduler().At(generator_->SlotStart(slots_[i].slot), [self, i] {
        self->RunScheduled([&](Clock::time_point now, Actions* actions) { self->NextCallLocked(i, now, actions); });
      });
    }
  }

 private:
  struct Slot final : CallPlayer::Sink {
    void Send(const grpc::ByteBuffer& event, bool) override {
      stream->QueueOwnedLocked(envelope->Wrap(event), WriteKind::kMessage);
    }

    ManyStream* stream = nullptr;
    int slot = 0;
    uint64_t calls = 0;  // calls begun; tells a timer of an earlier call from the current one
    std::optional<EnvelopeWriter> envelope;
    std::unique_ptr<CallPlayer> player;
    bool stopped = false;
  };

  // Begins the slot's next call, or stops the slot once the run stops; the last slot to stop
  // closes the stream.
  void NextCallLocked(size_t index, Clock::time_point now, Actions* actions) {
    Slot& slot = slots_[index];
    if (slot.stopped) return;
    if (generator_->stopping()) {
      slot.stopped = true;
      if (++slots_stopped_ == slots_.size()) {
        QueueLocked(nullptr, WriteKind::kWritesDone);
        ReleaseHoldLocked();
      }
      return;
    }
    auto [script, call_id] = generator_->NextCall(slot.slot);
    slot.envelope.emplace(call_id);
    slot.player = std::make_unique<CallPlayer>(generator_, script, call_id, &slot);
    by_call_id_[std::move(call_id)] = index;
    ++slot.calls;
    ArmTimer(slot.player->Begin(now), static_cast<int>(index), slot.calls, actions);
  }

  void OnAnswer(Clock::time_point now, Actions* actions) override {
    v1::GuardEventEnvelope envelope;
    const bool parsed = grpc::SerializationTraits<v1::GuardEventEnvelope>::Deserialize(&read_buffer_, &envelope).ok();
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = parsed ? by_call_id_.find(envelope.call_id()) : by_call_id_.end();
    if (!parsed) {
      generator_->OnAnswerError(false, "an answer that does not parse as a GuardEventEnvelope");
    } else if (it == by_call_id_.end()) {
      if (envelope.event().has_error()) {
        generator_->OnAnswerError(false, envelope.ShortDebugString());
      } else {
        generator_->OnStray(absl::StrCat("answer for no live call: ", envelope.ShortDebugString()));
      }
    } else {
      const size_t index = it->second;
      Slot& slot = slots_[index];
      if (slot.player->OnAnswer(envelope.event(), now)) {
        generator_->OnCallOver(slot.player->TakeUnanswered());
        by_call_id_.erase(it);
        slot.player.reset();
        NextCallLocked(index, now, actions);
      } else if (!generator_->paced()) {
        ArmTimer(slot.player->Advance(now), static_cast<int>(index), slot.calls, actions);
      }
    }
    CollectLocked(actions);
  }

  void OnTimerLocked(int index, uint64_t call, Clock::time_point now, Actions* actions) override {
    Slot& slot = slots_[static_cast<size_t>(index)];
    if (slot.calls != call || slot.player == nullptr || slot.player->end_sent()) return;
    ArmTimer(slot.player->Advance(now), index, call, actions);
  }

  void EndCallsLocked() override {
    for (Slot& slot : slots_) {
      if (slot.player == nullptr) continue;
      generator_->OnCallOver(slot.player->TakeUnanswered());
      slot.player.reset();
    }
    by_call_id_.clear();
  }

  std::vector<Slot> slots_;  // never resized: the players point at their slot
  absl::flat_hash_map<std::string, size_t> by_call_id_;  // live calls -> their slot
  size_t slots_stopped_ = 0;
};

std::pair<const CallScript*, std::string> Generator::NextCall(int slot) {
  int iteration = 0;
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    iteration = iterations_[static_cast<size_t>(slot)]++;
  }
  calls_started_.fetch_add(1, std::memory_order_relaxed);
  open_calls_.fetch_add(1, std::memory_order_relaxed);
  const size_t n = options_.scripts.size();
  const CallScript* script = &options_.scripts[(static_cast<size_t>(slot) + static_cast<size_t>(iteration)) % n];
  return {script, absl::StrCat("bench-", slot, "-", iteration)};
}

void Generator::OnVerdict(const Pending* pending, Clock::time_point now, int64_t eval_ns) {
  verdicts_.fetch_add(1, std::memory_order_relaxed);
  answered_.fetch_add(1, std::memory_order_relaxed);
  if (pending->in_window) {
    latency_.Record(Nanos(now - pending->sent));
    eval_.Record(eval_ns);
  }
}

void Generator::OnAnswerError(bool for_utterance, const std::string& what) {
  if (for_utterance) {
    utterance_errors_.fetch_add(1, std::memory_order_relaxed);
    answered_.fetch_add(1, std::memory_order_relaxed);
  } else {
    event_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  Problem(absl::StrCat("error event: ", what));
}

void Generator::OnStray(const std::string& what) {
  stray_.fetch_add(1, std::memory_order_relaxed);
  Problem(absl::StrCat("unexpected event: ", what));
}

void Generator::OnMismatch(const std::string& what) {
  mismatched_.fetch_add(1, std::memory_order_relaxed);
  Problem(what);
}

void Generator::StartStream(int stream) {
  if (stopping()) {
    std::lock_guard<std::mutex> lock(open_mu_);
    --open_;
    open_cv_.notify_all();
    return;
  }
  started_.fetch_add(1, std::memory_order_relaxed);
  grpc::GenericStub* stub = stubs_[static_cast<size_t>(stream) % stubs_.size()].get();
  if (!multiplexed()) {
    auto [script, call_id] = NextCall(stream);
    auto converse = std::make_shared<Stream>(this, stream, script, call_id);
    {
      std::lock_guard<std::mutex> lock(slots_mu_);
      live_[static_cast<size_t>(stream)] = converse;
    }
    Stream* raw = converse.get();
    raw->Begin(std::move(converse), stub);
    return;
  }
  const int first_slot = stream * calls_per_stream_;
  auto many =
      std::make_shared<ManyStream>(this, stream, first_slot, std::min(calls_per_stream_, options_.calls - first_slot));
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    live_[static_cast<size_t>(stream)] = many;
  }
  ManyStream* raw = many.get();
  raw->Begin(std::move(many), stub);
}

void Generator::OnStreamDone(int stream, const grpc::Status& status) {
  if (status.ok()) {
    streams_ok_.fetch_add(1, std::memory_order_relaxed);
  } else {
    streams_failed_.fetch_add(1, std::memory_order_relaxed);
    Problem(absl::StrCat("stream failed: ", status.error_code(), " ", status.error_message()));
  }
  if (!stopping()) {
    // A Converse slot's next call, or a failed ConverseMany stream again, started from the
    // scheduler's thread rather than inside OnDone; after a failure a little later, so that a
    // server gone away is not hammered.
    const Clock::duration backoff = status.ok() ? Clock::duration::zero() : std::chrono::milliseconds(100);
    scheduler_->At(Clock::now() + backoff, [this, stream] { StartStream(stream); });
    return;
  }
  std::lock_guard<std::mutex> lock(open_mu_);
  --open_;
  open_cv_.notify_all();
}

Quantiles QuantilesOf(const LatencyHistogram& h) {
  Quantiles q;
  q.count = h.count();
  q.p50_us = h.Quantile(0.50) / 1e3;
  q.p90_us = h.Quantile(0.90) / 1e3;
  q.p99_us = h.Quantile(0.99) / 1e3;
  q.p999_us = h.Quantile(0.999) / 1e3;
  q.max_us = h.max_ns() / 1e3;
  q.mean_us = h.mean_ns() / 1e3;
  return q;
}

absl::StatusOr<LoadReport> Generator::Run() {
  if (options_.scripts.empty()) return absl::InvalidArgumentError("no calls to play: the corpus is empty");
  if (options_.calls <= 0) return absl::InvalidArgumentError("--calls must be positive");
  const int connections =
      options_.connections > 0 ? options_.connections : std::max(1, (options_.calls + 99) / 100);

  LoadReport report;
  report.target = options_.target;
  report.scenario = options_.scenario;
  report.label = options_.label;
  report.calls = options_.calls;
  report.calls_per_stream = calls_per_stream_;
  streams_ = (options_.calls + calls_per_stream_ - 1) / calls_per_stream_;
  report.streams = streams_;
  report.connections = connections;
  report.window = paced_ ? 0 : static_cast<int>(window());
  report.rate_per_call = options_.rate_per_call;
  report.duration_s = options_.duration_s;

  ProcessSample idle;
  if (options_.server_pid > 0) {
    auto sample = SampleProcess(options_.server_pid);
    if (!sample.ok()) return sample.status();
    idle = *sample;
  }

  for (int i = 0; i < connections; ++i) {
    grpc::ChannelArguments args;
    // One TCP connection per channel: no subchannel sharing between them.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("callguard.bench.connection", i);
    auto channel = grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", options_.target));
    }
    stubs_.push_back(std::make_unique<grpc::GenericStub>(channel));
  }

  scheduler_ = std::make_unique<Scheduler>();
  iterations_.assign(static_cast<size_t>(options_.calls), 0);
  live_.resize(static_cast<size_t>(streams_));
  open_ = streams_;
  t0_ = Clock::now();
  ramp_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.ramp_s));
  for (int stream = 0; stream < streams_; ++stream) {
    scheduler_->At(SlotStart(stream * calls_per_stream_), [this, stream] { StartStream(stream); });
  }

  std::this_thread::sleep_until(
      t0_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.ramp_s + options_.settle_s)));
  ProcessSample server_before;
  if (options_.server_pid > 0) server_before = SampleProcess(options_.server_pid).value_or(ProcessSample());
  const double self_before = SelfCpuSeconds();
  const int64_t answered_before = answered_.load();
  const Clock::time_point window_start = Clock::now();
  recording_ = true;

  std::this_thread::sleep_until(
      window_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.duration_s)));
  recording_ = false;
  const Clock::time_point window_end = Clock::now();
  const int64_t answered_after = answered_.load();
  const double self_after = SelfCpuSeconds();
  ProcessSample server_after;
  if (options_.server_pid > 0) server_after = SampleProcess(options_.server_pid).value_or(ProcessSample());
  report.open_calls_at_rss = open_calls_.load();

  // Every call ends with its CallEnd; what has not come back by the deadline is lost.
  stopping_.store(true, std::memory_order_release);
  scheduler_->Hurry();
  {
    std::unique_lock<std::mutex> lock(open_mu_);
    const auto drain = std::chrono::duration<double>(options_.drain_timeout_s);
    if (!open_cv_.wait_for(lock, drain, [this] { return open_ == 0; })) {
      lock.unlock();
      std::cerr << "callguard-bench: calls still open after the drain timeout; cancelling them\n";
      std::vector<std::shared_ptr<StreamBase>> open_streams;
      {
        std::lock_guard<std::mutex> slots_lock(slots_mu_);
        for (const auto& weak : live_) {
          if (auto stream = weak.lock()) open_streams.push_back(std::move(stream));
        }
      }
      // Outside the lock: cancelling may run the streams' reactions on this thread.
      for (const auto& stream : open_streams) stream->Cancel();
    }
  }
  {
    std::unique_lock<std::mutex> lock(open_mu_);
    open_cv_.wait(lock, [this] { return open_ == 0; });
  }
  scheduler_.reset();

  report.utterances_sent = sent_;
  report.finals_sent = finals_sent_;
  report.verdicts = verdicts_;
  report.utterance_errors = utterance_errors_;
  report.event_errors = event_errors_;
  report.stray_events = stray_;
  report.mismatched = mismatched_;
  report.lost = lost_;
  report.streams_started = started_;
  report.calls_started = calls_started_;
  report.streams_ok = streams_ok_;
  report.streams_failed = streams_failed_;
  report.summaries = summaries_;

  report.window_s = std::chrono::duration<double>(window_end - window_start).count();
  report.window_answers = answered_after - answered_before;
  report.throughput = report.window_answers / report.window_s;
  report.latency = QuantilesOf(latency_);
  report.eval = QuantilesOf(eval_);
  report.lag = QuantilesOf(lag_);
  if (report.window_answers > 0) {
    report.client_cpu_us_per_utterance = (self_after - self_before) * 1e6 / report.window_answers;
  }
  if (options_.server_pid > 0) {
    report.server_measured = true;
    const double cpu = server_after.cpu_s - server_before.cpu_s;
    report.server_cores = cpu / report.window_s;
    if (report.window_answers > 0) report.server_cpu_us_per_utterance = cpu * 1e6 / report.window_answers;
    report.rss_idle_kib = idle.rss_kib;
    report.rss_loaded_kib = server_after.rss_kib;
    if (report.open_calls_at_rss > 0) {
      report.rss_per_call_kib =
          static_cast<double>(server_after.rss_kib - idle.rss_kib) / static_cast<double>(report.open_calls_at_rss);
    }
    auto last = SampleProcess(options_.server_pid);
    report.peak_kib = last.ok() ? last->peak_kib : server_after.peak_kib;
  }
  return report;
}

std::string Us(double us) { return us >= 1000 ? absl::StrFormat("%.2f ms", us / 1000) : absl::StrFormat("%.0f us", us); }

std::string QuantilesLine(const Quantiles& q) {
  return absl::StrFormat("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%d samples)", Us(q.p50_us), Us(q.p90_us),
                         Us(q.p99_us), Us(q.p999_us), Us(q.max_us), q.count);
}

std::string QuantilesJson(const Quantiles& q) {
  return absl::StrFormat(
      "{\"count\": %d, \"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, "
      "\"max_us\": %.2f, \"mean_us\": %.2f}",
      q.count, q.p50_us, q.p90_us, q.p99_us, q.p999_us, q.max_us, q.mean_us);
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// "10000 Converse streams" or "100 ConverseMany streams of 100 calls".
std::string StreamsText(int calls_per_stream, int streams) {
  if (calls_per_stream <= 1) return absl::StrFormat("%d Converse streams", streams);
  return absl::StrFormat("%d ConverseMany streams of %d calls", streams, calls_per_stream);
}

}  // namespace

absl::StatusOr<LoadReport> RunLoad(LoadOptions options) {
  Generator generator(std::move(options));
  return generator.Run();
}

std::string ReportTable(const LoadReport& r) {
  std::string out = absl::StrFormat(
      "callguard-bench %s%s%s: %d calls on %s over %d connections to %s, %s, %.1f s measured\n",
      r.scenario, r.scenario.empty() || r.label.empty() ? "" : " ", r.label, r.calls, StreamsText(r.calls_per_stream, r.streams),
      r.connections, r.target,
      r.rate_per_call > 0 ? absl::StrFormat("%.3g final utterances/s per call with interim results", r.rate_per_call)
                          : absl::StrFormat("as fast as possible, %d in flight per call", r.window),
      r.window_s);
  absl::StrAppendFormat(&out, "  throughput        %.0f utterances/s\n", r.throughput);
  absl::StrAppendFormat(&out, "  latency           %s\n", QuantilesLine(r.latency));
  absl::StrAppendFormat(&out, "  engine eval       %s\n", QuantilesLine(r.eval));
  if (r.rate_per_call > 0) absl::StrAppendFormat(&out, "  send lag          %s\n", QuantilesLine(r.lag));
  absl::StrAppendFormat(&out,
                        "  sent              %d utterances (%d final), %d verdicts, %d calls (%d summaries), "
                        "%d streams (%d ok, %d failed)\n",
                        r.utterances_sent, r.finals_sent, r.verdicts, r.calls_started, r.summaries, r.streams_started,
                        r.streams_ok, r.streams_failed);
  absl::StrAppendFormat(&out,
                        "  errors            %d (utterance errors %d, other error events %d, unexpected events %d, "
                        "out-of-order verdicts %d, failed streams %d)\n",
                        r.errors(), r.utterance_errors, r.event_errors, r.stray_events, r.mismatched, r.streams_failed);
  absl::StrAppendFormat(&out, "  lost answers      %d\n", r.lost);
  if (r.server_measured) {
    absl::StrAppendFormat(&out, "  server cpu        %.2f us/utterance (%.2f cores)\n", r.server_cpu_us_per_utterance,
                          r.server_cores);
    absl::StrAppendFormat(&out, "  server memory     idle %.1f MiB, with %d calls open %.1f MiB: %.1f KiB per call; peak %.1f MiB\n",
                          r.rss_idle_kib / 1024.0, r.open_calls_at_rss, r.rss_loaded_kib / 1024.0, r.rss_per_call_kib,
                          r.peak_kib / 1024.0);
  }
  absl::StrAppendFormat(&out, "  generator cpu     %.2f us/utterance\n", r.client_cpu_us_per_utterance);
  return out;
}

std::string ReportJson(const LoadReport& r) {
  std::string out = "{";
  absl::StrAppendFormat(&out, "\"scenario\": %s, \"label\": %s, \"target\": %s, ", JsonString(r.scenario),
                        JsonString(r.label), JsonString(r.target));
  absl::StrAppendFormat(&out,
                        "\"calls\": %d, \"calls_per_stream\": %d, \"streams\": %d, \"connections\": %d, "
                        "\"rate_per_call\": %g, \"window\": %d, \"duration_s\": %g, \"window_s\": %.3f, ",
                        r.calls, r.calls_per_stream, r.streams, r.connections, r.rate_per_call, r.window, r.duration_s,
                        r.window_s);
  absl::StrAppendFormat(&out,
                        "\"throughput\": %.1f, \"window_answers\": %d, \"utterances_sent\": %d, \"finals_sent\": %d, "
                        "\"verdicts\": %d, ",
                        r.throughput, r.window_answers, r.utterances_sent, r.finals_sent, r.verdicts);
  absl::StrAppendFormat(&out,
                        "\"errors\": %d, \"utterance_errors\": %d, \"event_errors\": %d, \"stray_events\": %d, "
                        "\"mismatched\": %d, \"lost\": %d, ",
                        r.errors(), r.utterance_errors, r.event_errors, r.stray_events, r.mismatched, r.lost);
  absl::StrAppendFormat(&out,
                        "\"streams_started\": %d, \"streams_ok\": %d, \"streams_failed\": %d, \"calls_started\": %d, "
                        "\"summaries\": %d, ",
                        r.streams_started, r.streams_ok, r.streams_failed, r.calls_started, r.summaries);
  absl::StrAppendFormat(&out, "\"latency\": %s, \"eval\": %s, \"lag\": %s, ", QuantilesJson(r.latency),
                        QuantilesJson(r.eval), QuantilesJson(r.lag));
  absl::StrAppendFormat(&out, "\"client_cpu_us_per_utterance\": %.3f", r.client_cpu_us_per_utterance);
  if (r.server_measured) {
    absl::StrAppendFormat(&out,
                          ", \"server\": {\"cpu_us_per_utterance\": %.3f, \"cores\": %.3f, \"rss_idle_kib\": %d, "
                          "\"rss_loaded_kib\": %d, \"peak_kib\": %d, \"open_calls\": %d, \"rss_per_call_kib\": %.2f}",
                          r.server_cpu_us_per_utterance, r.server_cores, r.rss_idle_kib, r.rss_loaded_kib, r.peak_kib,
                          r.open_calls_at_rss, r.rss_per_call_kib);
  }
  return out + "}";
}

}  // namespace callguard::bench

namespace callguard::bench {
namespace {

struct Figure {
  const char* name;
  std::vector<const char*> path;  // keys into the JSON report
  bool time_us = false;
};

const std::vector<Figure>& Figures() {
  static const auto* figures = new std::vector<Figure>{
      {"throughput (utterances/s)", {"throughput"}},
      {"latency p50", {"latency", "p50_us"}, true},
      {"latency p90", {"latency", "p90_us"}, true},
      {"latency p99", {"latency", "p99_us"}, true},
      {"latency p99.9", {"latency", "p999_us"}, true},
      {"engine eval p50", {"eval", "p50_us"}, true},
      {"server cpu per utterance", {"server", "cpu_us_per_utterance"}, true},
      {"server cores busy", {"server", "cores"}},
      {"server RSS per live call (KiB)", {"server", "rss_per_call_kib"}},
      {"server peak RSS (MiB)", {"server", "peak_kib"}},
      {"generator cpu per utterance", {"client_cpu_us_per_utterance"}, true},
  };
  return *figures;
}

const google::protobuf::Value* Lookup(const google::protobuf::Struct& report, const std::vector<const char*>& path) {
  const google::protobuf::Struct* at = &report;
  for (size_t i = 0; i < path.size(); ++i) {
    auto it = at->fields().find(path[i]);
    if (it == at->fields().end()) return nullptr;
    if (i + 1 == path.size()) return &it->second;
    if (!it->second.has_struct_value()) return nullptr;
    at = &it->second.struct_value();
  }
  return nullptr;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

std::string Cell(double value, bool time_us) {
  if (time_us) return Us(value);
  return value >= 100 ? absl::StrFormat("%.0f", value) : absl::StrFormat("%.2f", value);
}

}  // namespace

absl::StatusOr<std::string> CompareReports(const std::vector<std::string>& json_files, const std::string& baseline,
                                           const std::vector<std::string>& expectations) {
  // scenario -> label -> reports, in the order first seen.
  std::vector<std::string> scenarios;
  std::map<std::string, std::vector<std::string>> labels;
  std::map<std::pair<std::string, std::string>, std::vector<google::protobuf::Struct>> runs;
  for (const std::string& file : json_files) {
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrCat(file, ": cannot open"));
    std::stringstream text;
    text << in.rdbuf();
    google::protobuf::Struct report;
    if (auto status = google::protobuf::util::JsonStringToMessage(text.str(), &report); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": not a JSON report: ", status.ToString()));
    }
    const std::string scenario = report.fields().count("scenario") ? report.fields().at("scenario").string_value() : "";
    const std::string label = report.fields().count("label") ? report.fields().at("label").string_value() : "";
    if (std::find(scenarios.begin(), scenarios.end(), scenario) == scenarios.end()) scenarios.push_back(scenario);
    auto& seen = labels[scenario];
    if (std::find(seen.begin(), seen.end(), label) == seen.end()) seen.push_back(label);
    runs[{scenario, label}].push_back(std::move(report));
  }

  std::string out;
  for (const std::string& scenario : scenarios) {
    std::vector<std::string> order = labels[scenario];
    // The baseline first, the ratio is to it.
    std::stable_sort(order.begin(), order.end(),
                     [&](const std::string& a, const std::string& b) { return a == baseline && b != baseline; });
    const google::protobuf::Struct& first = runs[{scenario, order.front()}].front();
    const auto number = [&](const char* key) {
      const auto* v = Lookup(first, {key});
      return v == nullptr ? 0.0 : v->number_value();
    };
    const double rate = number("rate_per_call");
    const int calls_per_stream = static_cast<int>(std::max(1.0, number("calls_per_stream")));
    const int streams = static_cast<int>(number("streams"));
    absl::StrAppendFormat(&out, "\nscenario %s: %.0f calls on %s over %.0f connections, %s; medians of %d run(s) each\n",
                          scenario, number("calls"), StreamsText(calls_per_stream, streams > 0 ? streams : static_cast<int>(number("calls"))),
                          number("connections"),
                          rate > 0 ? absl::StrFormat("%g final utterances/s per call + interim", rate)
                                   : std::string("as fast as possible"),
                          runs[{scenario, order.front()}].size());
    absl::StrAppendFormat(&out, "  %-32s", "figure");
    for (const std::string& label : order) absl::StrAppendFormat(&out, " %12s", label);
    const bool with_ratio = order.size() > 1 && order.front() == baseline;
    if (with_ratio) {
      for (size_t i = 1; i < order.size(); ++i) absl::StrAppendFormat(&out, " %12s", absl::StrCat(order[i], "/", baseline));
    }
    out += "\n";
    for (const Figure& figure : Figures()) {
      std::vector<double> medians;
      bool any = false;
      for (const std::string& label : order) {
        std::vector<double> values;
        for (const auto& report : runs[{scenario, label}]) {
          if (const auto* v = Lookup(report, figure.path); v != nullptr) values.push_back(v->number_value());
        }
        any = any || !values.empty();
        double m = Median(values);
        if (std::string(figure.path.back()) == "peak_kib") m /= 1024;
        medians.push_back(m);
      }
      if (!any) continue;
      absl::StrAppendFormat(&out, "  %-32s", figure.name);
      for (double m : medians) absl::StrAppendFormat(&out, " %12s", Cell(m, figure.time_us));
      if (with_ratio) {
        for (size_t i = 1; i < medians.size(); ++i) {
          absl::StrAppendFormat(&out, " %12s", medians[0] > 0 ? absl::StrFormat("%.2f", medians[i] / medians[0]) : "-");
        }
      }
      out += "\n";
    }
    // Errors and lost answers are summed, not medians: one is one too many.
    absl::StrAppendFormat(&out, "  %-32s", "errors / lost (sum of runs)");
    for (const std::string& label : order) {
      double errors = 0, lost = 0;
      for (const auto& report : runs[{scenario, label}]) {
        if (const auto* v = Lookup(report, {"errors"})) errors += v->number_value();
        if (const auto* v = Lookup(report, {"lost"})) lost += v->number_value();
      }
      absl::StrAppendFormat(&out, " %12s", absl::StrFormat("%.0f / %.0f", errors, lost));
    }
    out += "\n";
  }

  // Targets: "SCENARIO:PATH OP VALUE", PATH dotted into the report, or "ratio:PATH" for the
  // median over the baseline's median. Checked on every label but the baseline.
  if (!expectations.empty()) out += "\ntargets (medians; errors and lost: sums)\n";
  for (const std::string& expectation : expectations) {
    const size_t colon = expectation.find(':');
    const size_t op_at = expectation.find_first_of("<>");
    if (colon == std::string::npos || op_at == std::string::npos || op_at < colon) {
      return absl::InvalidArgumentError(absl::StrCat("--expect \"", expectation, "\": want SCENARIO:PATH<=VALUE"));
    }
    const std::string scenario = expectation.substr(0, colon);
    const std::string path_text = expectation.substr(colon + 1, op_at - colon - 1);
    absl::string_view path = path_text;
    const bool or_equal = op_at + 1 < expectation.size() && expectation[op_at + 1] == '=';
    const char op = expectation[op_at];
    double limit = 0;
    if (!absl::SimpleAtod(expectation.substr(op_at + (or_equal ? 2 : 1)), &limit)) {
      return absl::InvalidArgumentError(absl::StrCat("--expect \"", expectation, "\": no number after the operator"));
    }
    const bool ratio = absl::ConsumePrefix(&path, "ratio:");
    std::vector<std::string> keys_owned = absl::StrSplit(path, '.');
    std::vector<const char*> keys;
    for (const auto& k : keys_owned) keys.push_back(k.c_str());
    const auto median_of = [&](const std::string& label) {
      std::vector<double> values;
      for (const auto& report : runs[{scenario, label}]) {
        if (const auto* v = Lookup(report, keys); v != nullptr) values.push_back(v->number_value());
      }
      // Errors and lost answers add up over the runs: one in any run is a miss.
      if (path == "errors" || path == "lost") return std::accumulate(values.begin(), values.end(), 0.0);
      return Median(values);
    };
    if (labels.find(scenario) == labels.end()) {
      absl::StrAppendFormat(&out, "  %-44s not run\n", expectation);
      continue;
    }
    for (const std::string& label : labels[scenario]) {
      if (label == baseline) continue;
      double value = median_of(label);
      if (ratio) {
        const double base = median_of(baseline);
        value = base > 0 ? value / base : 0;
      }
      const bool met = op == '<' ? (or_equal ? value <= limit : value < limit)
                                 : (or_equal ? value >= limit : value > limit);
      absl::StrAppendFormat(&out, "  %-44s %-10s %12.3f  %s\n", expectation, label, value, met ? "met" : "NOT MET");
    }
  }
  return out;
}

}  // namespace callguard::bench
