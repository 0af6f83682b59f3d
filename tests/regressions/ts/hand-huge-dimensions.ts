@problemName H
@univariate false
@dimensions 99999999999999999999999
@classLabel true a
@data
1:2:a
