#!/usr/bin/python3
"""Streams one sample call to callguard over gRPC and prints each alert as it arrives.

A dialer integration in another language, straight from the protos: the stubs are generated
from proto/callguard/v1/*.proto (protoc --python_out, grpc_python_plugin); the build puts them
in <build>/python. Needs Debian's python3-grpcio and python3-protobuf.

    /usr/bin/python3 stream_call.py --target 127.0.0.1:50051 --stubs build/python \
        [--calls examples/calls-en.jsonl] [--call-id ID]

Without --call-id it streams the first call of the file. This example sends unsequenced
events (CallEvent.seq = 0): a broken stream ends the call. For resume after a fault, number the
events and follow "Resuming after a fault" in docs/integration.md.
"""

import argparse
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="callguard-server HOST:PORT")
    parser.add_argument("--stubs", help="folder of the generated Python stubs")
    parser.add_argument("--calls", default="examples/calls-en.jsonl")
    parser.add_argument("--call-id", default="")
    args = parser.parse_args()
    if args.stubs:
        sys.path.insert(0, args.stubs)

    import grpc
    from google.protobuf import json_format
    from callguard.v1 import guard_pb2, guard_pb2_grpc, common_pb2, transcript_pb2

    call = None
    with open(args.calls, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            t = json_format.Parse(line, transcript_pb2.Transcript())
            if not args.call_id or t.call_id == args.call_id:
                call = t
                break
    if call is None:
        sys.exit(f"stream_call: no call {args.call_id!r} in {args.calls}")

    def events():
        start = guard_pb2.CallStart(call_id=call.call_id, policy=call.policy, language=call.language,
                                    dialed=call.dialed)
        start.agency.CopyFrom(call.agency)
        start.agent.CopyFrom(call.agent)
        start.debtor.CopyFrom(call.debtor)
        yield guard_pb2.CallEvent(start=start)
        for turn, t in enumerate(call.turns):
            yield guard_pb2.CallEvent(utterance=guard_pb2.Utterance(
                utterance_id=f"u{turn}", speaker=t.speaker, text=t.text, is_final=True))
        yield guard_pb2.CallEvent(end=guard_pb2.CallEnd(reason="call finished"))

    print(f"CALL {call.call_id} policy={call.policy}", flush=True)
    with grpc.insecure_channel(args.target) as channel:
        stub = guard_pb2_grpc.CallGuardStub(channel)
        try:
            for answer in stub.Converse(events(), timeout=60):
                kind = answer.WhichOneof("event")
                if kind == "alert":
                    a = answer.alert
                    words = ", ".join(f'"{e.text}"' for e in a.evidence)
                    citations = "; ".join(f"{c.authority} {c.section}" for c in a.citations)
                    print(f"ALERT {common_pb2.ViolationKind.Name(a.violation)} rule={a.rule_id} "
                          f"turn={a.turn} words={words}")
                    print(f"  citation: {citations}")
                    print(f"  better: {a.coaching}", flush=True)
                elif kind == "error":
                    print(f"ERROR {answer.error.field}: {answer.error.message}", flush=True)
                elif kind == "summary":
                    s = answer.summary
                    print(f"SUMMARY turns={s.turns} alerts={s.alerts} "
                          f"identified={'yes' if s.agent_identified else 'no'}", flush=True)
        except grpc.RpcError as e:
            sys.exit(f"stream_call: {e.code().name}: {e.details()}")


if __name__ == "__main__":
    main()
