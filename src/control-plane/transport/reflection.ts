import {
  create,
  createRegistry,
  type DescFile,
  type DescService,
  type MessageInitShape,
  type Registry,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import {
  type ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";

type MessageResponse = MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"];

/**
 * grpc.reflection.v1.ServerReflection over protobuf-es descriptors, so `grpcurl`, `buf curl` and Postman can
 * discover the served services without local .proto files. Files are answered with all their transitive
 * dependencies on every request (the protocol allows resending).
 */
export function createReflectionService(
  services: readonly DescService[],
): ServiceImpl<typeof ServerReflection> {
  const files = collectFiles(services.map((s) => s.file));
  const registry = createRegistry(...files.values());
  const answer = (req: ServerReflectionRequest): ServerReflectionResponse =>
    create(ServerReflectionResponseSchema, {
      validHost: req.host,
      originalRequest: req,
      messageResponse: respond(req, services, files, registry),
    });
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield answer(req);
    },
  };
}

function respond(
  req: ServerReflectionRequest,
  services: readonly DescService[],
  files: ReadonlyMap<string, DescFile>,
  registry: Registry,
): MessageResponse {
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: services.map((s) => ({ name: s.typeName })) },
      };
    case "fileByFilename":
      return fileResponse(files.get(r.value), `file "${r.value}"`);
    case "fileContainingSymbol":
      return fileResponse(fileOfSymbol(registry, r.value), `symbol "${r.value}"`);
    case "fileContainingExtension": {
      const extendee = registry.getMessage(r.value.containingType);
      const ext = extendee && registry.getExtensionFor(extendee, r.value.extensionNumber);
      return fileResponse(ext?.file, `extension ${r.value.extensionNumber} of "${r.value.containingType}"`);
    }
    case "allExtensionNumbersOfType": {
      if (registry.getMessage(r.value) === undefined) return notFound(`type "${r.value}"`);
      const numbers: number[] = [];
      for (const d of registry)
        if (d.kind === "extension" && d.extendee.typeName === r.value) numbers.push(d.number);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: r.value, extensionNumber: numbers },
      };
    }
    default:
      return {
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "empty request" },
      };
  }
}

/** The file declaring a type, service, method, field or enum value, by fully-qualified name. */
function fileOfSymbol(registry: Registry, symbol: string): DescFile | undefined {
  const direct = registry.get(symbol);
  if (direct) return direct.file;
  const dot = symbol.lastIndexOf(".");
  if (dot < 0) return undefined;
  const parent = registry.get(symbol.slice(0, dot));
  const member = symbol.slice(dot + 1);
  switch (parent?.kind) {
    case "service":
      return parent.methods.some((m) => m.name === member) ? parent.file : undefined;
    case "message":
      return parent.fields.some((f) => f.name === member) ? parent.file : undefined;
    case "enum":
      return parent.values.some((v) => v.name === member) ? parent.file : undefined;
    default:
      return undefined;
  }
}

function fileResponse(file: DescFile | undefined, what: string): MessageResponse {
  if (file === undefined) return notFound(what);
  const descriptors = [...collectFiles([file]).values()].map((f) =>
    toBinary(FileDescriptorProtoSchema, f.proto),
  );
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto: descriptors } };
}

function notFound(what: string): MessageResponse {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

/** The files and everything they import, keyed by file name ("switchyard/v1/gateway.proto"), roots first. */
function collectFiles(roots: readonly DescFile[]): Map<string, DescFile> {
  const out = new Map<string, DescFile>();
  const visit = (file: DescFile): void => {
    if (out.has(file.proto.name)) return;
    out.set(file.proto.name, file);
    for (const dep of file.dependencies) visit(dep);
  };
  for (const root of roots) visit(root);
  return out;
}
