"""A process that costs a known amount: CPU seconds (in itself and in a child process) and memory."""
import subprocess
import sys
import time

from wpsgate import LiteralInput, LiteralOutput, Process


def _burn(request, response):
    seconds = request.inputs["seconds"][0].data
    megabytes = request.inputs["megabytes"][0].data
    block = bytearray(megabytes * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page, so that it is resident
        block[i] = 1
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    child = request.inputs["child"][0].data if "child" in request.inputs else 0.0
    if child:
        subprocess.run([sys.executable, "-c", f"import time\nend = time.process_time() + {child}\n"
                                              "while time.process_time() < end: pass"], check=True)
    response.outputs["output"].data = f"{len(block)}"


def burn() -> Process:
    return Process(_burn, "burn", "Use CPU and memory", store_supported=True, status_supported=True,
                   inputs=[LiteralInput("seconds", "CPU seconds", data_type="float"),
                           LiteralInput("megabytes", "memory", data_type="integer"),
                           LiteralInput("child", "CPU seconds in a child process", data_type="float", min_occurs=0)],
                   outputs=[LiteralOutput("output", "bytes allocated", data_type="string")])
