import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type GatewayService,
  type WatchSnapshotRequest,
  type WatchSnapshotResponse,
  WatchSnapshotResponseSchema,
} from "../../gen/switchyard/v1/gateway_pb.js";
import type { SnapshotSource } from "../domain/snapshot/snapshot-source.js";
import { type ChannelServerOptions, createChannelHandler } from "./gateway-channel.js";
import type { GatewayHandlers, OperationContext } from "./gateway-handlers.js";
import { translateRpcError } from "./handle-errors.js";

/** Header a tool may set on unary calls to name the data-plane instance that owns the leases it takes. */
export const INSTANCE_HEADER = "x-switchyard-instance";

/**
 * GatewayService: the lease channel, the unary equivalents of each operation (same handlers, same semantics;
 * refusals become gRPC errors carrying the Failure, unexpected errors a logged INTERNAL), and the snapshot watch.
 */
export function createGatewayService(
  handlers: GatewayHandlers,
  snapshots: SnapshotSource,
  channel: ChannelServerOptions,
): ServiceImpl<typeof GatewayService> {
  const unary =
    <Req, Res>(op: (request: Req, ctx: OperationContext) => Promise<Res>) =>
    async (request: Req, context: HandlerContext): Promise<Res> => {
      try {
        return await op(request, {
          instanceId: context.requestHeader.get(INSTANCE_HEADER) ?? "unary",
          signal: context.signal,
        });
      } catch (err) {
        throw translateRpcError(err, context.method.name, channel.log);
      }
    };
  return {
    channel: createChannelHandler(handlers, channel),
    authenticate: unary(handlers.authenticate.bind(handlers)),
    admit: unary(handlers.admit.bind(handlers)),
    reroute: unary(handlers.reroute.bind(handlers)),
    renew: unary(handlers.renew.bind(handlers)),
    release: unary(handlers.release.bind(handlers)),
    reportUsage: unary(handlers.reportUsage.bind(handlers)),
    watchSnapshot: (request, context) => watchSnapshot(snapshots, request, context),
  };
}

async function* watchSnapshot(
  snapshots: SnapshotSource,
  request: WatchSnapshotRequest,
  context: HandlerContext,
): AsyncIterable<WatchSnapshotResponse> {
  let known = request.knownRevision;
  while (!context.signal.aborted) {
    const changed = snapshots.changed(context.signal);
    const snapshot = await snapshots.current();
    if (snapshot.revision !== known) {
      known = snapshot.revision;
      yield create(WatchSnapshotResponseSchema, { snapshot });
    }
    await changed;
  }
}
