"""Demo processes with the identifiers, inputs and outputs of birdhouse Emu's well-known ones.

Tutorials and client tests written for Emu work against them unchanged.
"""

DEMO_PROCESSES = (
    "wpsgate.demo.hello:Hello",
    "wpsgate.demo.ultimate_question:UltimateQuestion",
    "wpsgate.demo.sleep:Sleep",
    "wpsgate.demo.nap:Nap",
    "wpsgate.demo.wordcounter:WordCounter",
    "wpsgate.demo.inout:InOut",
    "wpsgate.demo.bbox:Box",
    "wpsgate.demo.binaryoperator:BinaryOperator",
    "wpsgate.demo.show_error:ShowError",
)
