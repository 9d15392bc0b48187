// The S3 client and presigner as one self-contained module of a function's bundle (SELF_CONTAINED_MODULES in
// ../bundling.ts): built with its own copy of the SDK's core, apart from the function's code.
export * from '@aws-sdk/client-s3';
export * from '@aws-sdk/s3-request-presigner';
