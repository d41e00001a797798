"""Grid Engine's own submit-to-start latency through DRMAA, the API wpsgate's drmaa mode uses.

``python -m bench.drmaa_stamp FOLDER INDEX PHASE`` opens a DRMAA session, waits
PHASE seconds, submits one job running ``/bin/sh FOLDER/stamp.sh
FOLDER/gridengine-INDEX`` (which writes the time it started), and prints the
seconds from the ``runJob`` call to that time and the job id, as JSON.  It needs the environment of
slurm-demo/gridengine.env from its start (GLIBC_TUNABLES for libdrmaa).
"""
import json
import os
import sys
import time

import drmaa

from bench.stamps import wait_for_stamp


def main() -> int:
    folder, index, phase = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    out = os.path.join(folder, f"gridengine-{index}")
    with drmaa.Session() as session:
        template = session.createJobTemplate()
        try:
            template.remoteCommand = "/bin/sh"
            template.args = [os.path.join(folder, "stamp.sh"), out]
            template.jobName = "wpsgate-bench-latency"
            template.outputPath = ":/dev/null"
            template.joinFiles = True
            time.sleep(phase)
            submitted = time.time()
            job_id = session.runJob(template)
        finally:
            session.deleteJobTemplate(template)
        latency = wait_for_stamp(out) - submitted
        session.wait(job_id, 60)
    json.dump([latency, job_id], sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
