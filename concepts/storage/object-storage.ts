/**
 * Data on S3-compatible object storage (`s3://bucket/prefix`): how LanceDB and the blob store reach it. Several
 * processes may share such a dataset, so its tables are read at their latest version on every read.
 */
import * as lancedb from '@lancedb/lancedb';

/** Where the S3-compatible server is and how to sign in; absent fields fall back to the AWS defaults. */
export interface ObjectStorage {
  /** e.g. `http://minio:9000`; absent means AWS S3 itself. */
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

/** The bucket and key prefix of an `s3://bucket/prefix` URI; undefined for a local folder. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) return undefined;
  return { bucket: m[1], prefix: m[2].replace(/\/+$/, '') };
}

/** The same settings in the words of LanceDB's object store. */
function lanceStorageOptions(o: ObjectStorage): Record<string, string> {
  const options: Record<string, string> = {};
  if (o.endpoint) options.endpoint = o.endpoint;
  if (o.endpoint?.startsWith('http://')) options.allow_http = 'true';
  if (o.region) options.region = o.region;
  if (o.accessKeyId) options.aws_access_key_id = o.accessKeyId;
  if (o.secretAccessKey) options.aws_secret_access_key = o.secretAccessKey;
  return options;
}

/**
 * Connects to the LanceDB at `uri`. On object storage every read first looks for a newer version, so that a
 * process sees what another committed (one small request per read); a local folder has one writer process.
 */
export function connectData(uri: string, storage: ObjectStorage = {}): Promise<lancedb.Connection> {
  if (!parseS3Uri(uri)) return lancedb.connect(uri);
  return lancedb.connect(uri, { storageOptions: lanceStorageOptions(storage), readConsistencyInterval: 0 });
}
