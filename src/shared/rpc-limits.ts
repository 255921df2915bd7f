/**
 * The largest request message, in bytes, each control-plane service reads (after decompression). Larger messages
 * are refused with RESOURCE_EXHAUSTED before they are buffered whole; without a limit Connect reads up to 4 GiB.
 * Both planes import these, so a sender can stay under what the receiver accepts.
 */

const MiB = 1024 * 1024;

/** AdminService: CLI and admin UI requests, the largest being an account with its credential and model mapping. */
export const ADMIN_READ_MAX_BYTES = 4 * MiB;

/**
 * GatewayService: the data plane's batched lease-channel messages and usage reports. A data plane must cap its
 * channel batches below this (with room for the envelope), or the control plane ends its channel.
 */
export const GATEWAY_READ_MAX_BYTES = 16 * MiB;

/** grpc.health.v1 and grpc.reflection.v1: anyone may call them, and their requests are a name or two. */
export const OPEN_READ_MAX_BYTES = 1 * MiB;
