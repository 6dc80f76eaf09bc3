// The handler module the grpc-iter contender's worker pool loads (in each worker thread).
import { unaryUnaryRpcMethodHandler } from '../../dist/index.js';
import { burn, calibrate } from './thread-pool-work.mjs';

const iterations = calibrate();
const nothing = new Uint8Array(0);

export default [
  {
    serviceName: 'bench.Work',
    methodHandlers: {
      Burn: unaryUnaryRpcMethodHandler(() => burn(iterations)),
      Nothing: unaryUnaryRpcMethodHandler(() => nothing),
    },
  },
];
